import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// A plain GET for tests: status and body, or nil when the connection failed.
public func httpGet(_ url: String, timeout: TimeInterval = 2) async -> (status: Int, body: String)?
{
  guard let url = URL(string: url) else { return nil }
  var request = URLRequest(url: url)
  request.timeoutInterval = timeout
  guard let (data, response) = try? await URLSession.shared.data(for: request),
    let http = response as? HTTPURLResponse
  else { return nil }
  return (http.statusCode, String(decoding: data, as: UTF8.self))
}
