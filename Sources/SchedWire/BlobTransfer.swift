import SchedModel

/// An agent asks for a blob of the image store on a data connection: one it dialed to the
/// cluster port besides its session (hello and welcome, then no register), so a layer never
/// holds up a heartbeat. `offset` resumes a transfer that was cut.
public struct FetchBlob: WireBody {
  public static let type = MessageType.fetchBlob
  public var digest: ContentDigest
  public var offset: Int64

  public init(digest: ContentDigest, offset: Int64 = 0) {
    self.digest = digest
    self.offset = offset
  }
}

/// The scheduler's answer to `fetch_blob`: the blob's whole size, then, right after this
/// line's newline, its bytes from `offset` to the end, raw. The next line, if any, follows
/// them. A blob the store lacks is answered with an `error` line (`not_found`) instead.
public struct BlobHeader: WireBody {
  public static let type = MessageType.blob
  public var digest: ContentDigest
  public var size: Int64
  public var offset: Int64

  public init(digest: ContentDigest, size: Int64, offset: Int64) {
    self.digest = digest
    self.size = size
    self.offset = offset
  }

  /// How many raw bytes follow the line.
  public var length: Int64 { size - offset }
}
