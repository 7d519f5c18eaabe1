import Hummingbird
import NIOCore

/// The API's request context: Hummingbird's basics, the client's address, which the
/// dashboard's login throttle counts refusals by, and the caller `OperatorAuth` admitted.
struct APIContext: RequestContext, RemoteAddressRequestContext {
  var coreContext: CoreRequestContextStorage
  let remoteAddress: SocketAddress?
  var caller: Caller?

  init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
    remoteAddress = source.channel.remoteAddress
  }

  /// The client's IP address without its port: one key per host, whatever ports it uses.
  var clientHost: String { remoteAddress?.ipAddress ?? "unknown" }
}
