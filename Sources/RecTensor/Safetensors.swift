import Foundation
import RecCore

/// Checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON header
/// of name -> dtype, shape and byte offsets, then the raw little-endian data), so weights can be
/// inspected with the usual tools.
public enum Safetensors {
    /// One tensor's entry in the header; `range` is its bytes relative to the data section.
    public struct Entry: Sendable, Equatable {
        public let dtype: String
        public let shape: [Int]
        public let range: Range<Int>
    }

    /// Bytes per element of the dtypes the format defines.
    static let elementSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
        "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1,
    ]

    /// Serialises named F32 tensors; names are written in sorted order.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + tensor.count * 4]]
            offset += tensor.count * 4
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }  // pad to 8 bytes with spaces
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        bytes += json
        bytes.reserveCapacity(bytes.count + offset)
        for name in names {
            tensors[name]!.data.withUnsafeBytes { bytes += $0 }
        }
        return bytes
    }

    /// Validates the header of a whole file in `bytes`: the length, the JSON, every entry's
    /// dtype, shape and offsets against the data section. `file` names it in errors.
    /// - Returns: the entries, the metadata and where the data section starts.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws
        -> (entries: [String: Entry], metadata: [String: String], dataStart: Int)
    {
        func fail(_ message: String) -> RecError { RecError(.data, "\(file): \(message)") }
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, no header length") }
        let headerLength = Int(clamping: UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))
        guard headerLength <= bytes.count - 8 else {
            throw fail("truncated: the header claims \(headerLength) bytes, the file has \(bytes.count - 8) after the length")
        }
        let json = Data(bytes[8..<(8 + headerLength)])
        guard let header = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw fail("the header is not a JSON object (is this a safetensors file?)")
        }
        let dataStart = 8 + headerLength, dataSize = bytes.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw fail("tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let size = elementSizes[dtype] else { throw fail("tensor '\(name)' has unknown dtype \(dtype)") }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] >= offsets[0] else {
                throw fail("tensor '\(name)' has a negative dimension or offsets \(offsets)")
            }
            guard offsets[1] <= dataSize else {
                throw fail("truncated: tensor '\(name)' ends at byte \(dataStart + offsets[1]), the file has \(bytes.count)")
            }
            // Checked products: a shape from the file may multiply past Int.max.
            var bytesNeeded = size
            for dimension in shape {
                let (product, overflow) = bytesNeeded.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= dataSize else {
                    throw fail("tensor '\(name)': \(dtype) shape \(shape) needs more bytes than the file's \(dataSize)")
                }
                bytesNeeded = product
            }
            guard offsets[1] - offsets[0] == bytesNeeded else {
                throw fail("tensor '\(name)': \(dtype) shape \(shape) needs \(bytesNeeded) bytes, offsets give \(offsets[1] - offsets[0])")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        let sorted = entries.values.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.upperBound > b.lowerBound {
            throw fail("tensors overlap at data bytes \(b.lowerBound)..<\(a.upperBound)")
        }
        return (entries, metadata, dataStart)
    }

    /// Parses a safetensors buffer of F32 tensors; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String = "checkpoint") throws -> [String: Tensor] {
        try decodeWithMetadata(bytes, file: file).tensors
    }

    /// The tensors of a safetensors buffer of F32 tensors and its `__metadata__` strings.
    public static func decodeWithMetadata(_ bytes: [UInt8], file: String = "checkpoint") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try bytes.withUnsafeBytes { raw in
            let (entries, metadata, dataStart) = try parseHeader(raw, file: file)
            var tensors: [String: Tensor] = [:]
            for (name, entry) in entries {
                guard entry.dtype == "F32" else {
                    throw RecError(.data, "\(file): tensor '\(name)' has dtype \(entry.dtype); only F32 is supported here")
                }
                let values = floats(raw, from: dataStart + entry.range.lowerBound, count: entry.range.count / 4)
                tensors[name] = Tensor(shape: entry.shape, data: values, requiresGrad: true)
            }
            return (tensors, metadata)
        }
    }

    /// Little-endian F32 values at a byte offset (which need not be aligned).
    static func floats(_ raw: UnsafeRawBufferPointer, from offset: Int, count: Int) -> [Float] {
        makeArray(count) { out in
            UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * 4)]))
        }
    }

    public static func save(_ tensors: [String: Tensor], to path: String, metadata: [String: String] = [:]) throws {
        try Data(encode(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func load(_ path: String) throws -> [String: Tensor] {
        try decode(InputFile.read(path, what: "checkpoint"), file: path)
    }
}

/// A safetensors file mapped into memory read-only: the header is validated when it is opened
/// and tensors are converted to Float32 on request (F32, F16 and BF16).
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let entries: [String: Safetensors.Entry]
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        (entries, metadata, dataStart) = try Safetensors.parseHeader(file.bytes, file: path)
    }

    /// The tensor `name` as Float32; with `shape`, it must have exactly that shape.
    public func tensor(_ name: String, shape expected: [Int]? = nil) throws -> Tensor {
        guard let entry = entries[name] else { throw RecError(.data, "\(path): no tensor '\(name)'") }
        if let expected, expected != entry.shape {
            throw RecError(.data, "\(path): tensor '\(name)' has shape \(entry.shape), expected \(expected)")
        }
        let raw = file.bytes
        let offset = dataStart + entry.range.lowerBound, count = entry.shape.reduce(1, *)
        let values: [Float]
        switch entry.dtype {
        case "F32":
            values = Safetensors.floats(raw, from: offset, count: count)
        case "F16":
            values = (0..<count).map { loadHalf(raw.baseAddress!, at: offset + 2 * $0) }
        case "BF16":
            values = (0..<count).map { loadBFloat16(raw.baseAddress!, at: offset + 2 * $0) }
        default:
            throw RecError(.data, "\(path): tensor '\(name)' has dtype \(entry.dtype); F32, F16 or BF16 expected")
        }
        return Tensor(shape: entry.shape, data: values)
    }
}

/// A model's parameters by name (the checkpoint's keys).
extension Dictionary where Key == String, Value == Tensor {
    /// The tensors in name order (a stable order for an optimiser and a checkpoint).
    public var inNameOrder: [Tensor] { keys.sorted().map { self[$0]! } }

    /// Copies each tensor's values from the tensor of the same name in `loaded` (a decoded
    /// checkpoint); `checkpoint` names it in the error for a missing or reshaped one.
    public func copyValues(from loaded: [String: Tensor], checkpoint: String) throws {
        for (name, tensor) in self {
            guard let new = loaded[name], new.shape == tensor.shape else {
                throw RecError(.plugin, "\(checkpoint): parameter '\(name)' is missing or has another shape")
            }
            tensor.data = new.data
        }
    }
}
