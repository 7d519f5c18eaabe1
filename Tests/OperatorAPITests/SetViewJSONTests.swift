import Foundation
import OperatorAPI
import SchedModel
import SchedWire
import Testing

@Suite("Status API: a set's JSON")
struct SetViewJSONTests {
  @Test func aSetCarriesItsDeployTimeInSnakeCaseAndOlderAnswersStillDecode() throws {
    let set = SetView(
      color: .green, deployment: "d2", image: "shop:2", state: .ready, live: false, slots: [],
      createdAt: Date(timeIntervalSince1970: 2_000))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .secondsSince1970
    let json = String(decoding: try encoder.encode(set), as: UTF8.self)
    #expect(json.contains(#""created_at":2000"#))
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    #expect(try decoder.decode(SetView.self, from: Data(json.utf8)) == set)
    // A scheduler from before this field answers without it.
    let older =
      #"{"color":"blue","deployment":"d1","image":"shop:1","live":true,"slots":[],"state":"ready"}"#
    #expect(try decoder.decode(SetView.self, from: Data(older.utf8)).createdAt == nil)
  }
}
