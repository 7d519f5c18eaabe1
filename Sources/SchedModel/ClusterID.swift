/// The identity of one cluster: made with the scheduler's database, handed to agents and routers
/// in `welcome`, and remembered by them.
public enum ClusterID {
  /// A new id: `c-` and 26 random base-32 digits (130 bits).
  public static func random() -> String {
    var generator = SystemRandomNumberGenerator()
    return random(using: &generator)
  }

  public static func random(using generator: inout some RandomNumberGenerator) -> String {
    let digits = Array("0123456789abcdefghjkmnpqrstvwxyz")
    return "c-" + String((0..<26).map { _ in digits[Int(generator.next() % 32)] })
  }
}
