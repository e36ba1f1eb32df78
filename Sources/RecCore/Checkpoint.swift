/// Little-endian bytes for `Checkpointable` models: lengths are written before arrays, so a
/// reader can check every count against what is left before it allocates anything.
public struct CheckpointWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func int(_ value: Int) {
        withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 }
    }

    public mutating func floats(_ values: [Float]) {
        int(values.count)
        values.withUnsafeBytes { bytes += $0 }
    }

    public mutating func int32s(_ values: [Int32]) {
        int(values.count)
        values.withUnsafeBytes { bytes += $0 }
    }

    public mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        int(utf8.count)
        bytes += utf8
    }

    /// Another model's checkpoint inside this one (a wrapped backbone's).
    public mutating func blob(_ value: [UInt8]) {
        int(value.count)
        bytes += value
    }
}

/// Reads what `CheckpointWriter` wrote; every read checks the bytes left and throws a
/// `RecError(.plugin)` naming the model on a short or malformed checkpoint.
public struct CheckpointReader {
    private let bytes: [UInt8]
    private var offset = 0
    private let model: String

    public init(_ bytes: [UInt8], model: String) {
        self.bytes = bytes
        self.model = model
    }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func int() throws -> Int {
        guard bytes.count - offset >= 8 else { throw truncated() }
        let value = bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: Int64.self)) }
        offset += 8
        guard let result = Int(exactly: value) else { throw truncated() }
        return result
    }

    /// A non-negative count no larger than `limit`.
    public mutating func count(atMost limit: Int) throws -> Int {
        let value = try int()
        guard value >= 0, value <= limit else {
            throw RecError(.plugin, "\(model) checkpoint holds a count of \(value), outside 0...\(limit)")
        }
        return value
    }

    /// The length of an array of `size`-byte elements that follows, checked against the bytes
    /// left after the length itself.
    private mutating func length(of size: Int) throws -> Int {
        let value = try int()
        let limit = (bytes.count - offset) / size
        guard value >= 0, value <= limit else {
            throw RecError(.plugin, "\(model) checkpoint holds a length of \(value) where \(limit) elements are left")
        }
        return value
    }

    public mutating func floats() throws -> [Float] {
        let count = try length(of: 4)
        let values = bytes.withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + $0 * 4, as: UInt32.self))) }
        }
        offset += count * 4
        return values
    }

    public mutating func int32s() throws -> [Int32] {
        let count = try length(of: 4)
        let values = bytes.withUnsafeBytes { raw in
            (0..<count).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + $0 * 4, as: Int32.self)) }
        }
        offset += count * 4
        return values
    }

    public mutating func string() throws -> String {
        let count = try length(of: 1)
        let text = String(decoding: bytes[offset..<offset + count], as: UTF8.self)
        offset += count
        return text
    }

    public mutating func blob() throws -> [UInt8] {
        let count = try length(of: 1)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Throws unless every byte was read.
    public func finish() throws {
        guard isAtEnd else { throw RecError(.plugin, "\(model) checkpoint has \(bytes.count - offset) bytes more than expected") }
    }

    private func truncated() -> RecError { RecError(.plugin, "\(model) checkpoint is truncated or corrupt") }
}
