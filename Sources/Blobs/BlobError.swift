/// The error of the blob files: what went wrong with which blob, and what to do.
public struct BlobError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case notFound = "not_found"
    /// The bytes do not hash to the digest they were sent as.
    case digestMismatch = "digest_mismatch"
    /// More bytes than the blob's declared size.
    case tooLarge = "too_large"
    /// The disk holding the blobs is full; nothing half-written was kept.
    case diskFull = "disk_full"
    case io
    /// What was read is not what it claims to be (an image export that does not add up).
    case invalid
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
