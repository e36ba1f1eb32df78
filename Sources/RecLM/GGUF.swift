import Foundation
import RecCore
import RecTensor

/// A GGUF file (versions 2 and 3) mapped into memory read-only: the metadata, the tensor table,
/// and tensors converted to Float32 on request. Every offset and size is checked when the file
/// is opened, so a truncated or malformed file fails with its path and what is wrong.
public final class GGUFFile: @unchecked Sendable {
    /// A metadata value.
    public enum Value: Sendable, Equatable {
        case int(Int64), uint(UInt64), float(Double), bool(Bool), string(String)
        case array([Value])

        public var int: Int? {
            switch self {
            case .int(let v): return Int(exactly: v)
            case .uint(let v): return Int(exactly: v)
            default: return nil
            }
        }
        public var double: Double? {
            switch self {
            case .float(let v): return v
            case .int(let v): return Double(v)
            case .uint(let v): return Double(v)
            default: return nil
            }
        }
        public var string: String? { if case .string(let s) = self { return s } else { return nil } }
        public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
        public var array: [Value]? { if case .array(let a) = self { return a } else { return nil } }
    }

    /// The ggml tensor types this reader converts, with their block layout.
    public enum TensorType: UInt32, Sendable {
        case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15, bf16 = 30

        /// (values per block, bytes per block)
        var block: (values: Int, bytes: Int) {
            switch self {
            case .f32: return (1, 4)
            case .f16, .bf16: return (1, 2)
            case .q4_0: return (32, 18)
            case .q4_1: return (32, 20)
            case .q5_0: return (32, 22)
            case .q5_1: return (32, 24)
            case .q8_0: return (32, 34)
            case .q4_K: return (256, 144)
            case .q5_K: return (256, 176)
            case .q6_K: return (256, 210)
            case .q8_K: return (256, 292)
            }
        }

        static let names: [UInt32: String] = [
            0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
            12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
            20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
            29: "IQ1_M", 30: "BF16",
        ]
    }

    public struct TensorInfo: Sendable {
        public var name: String
        /// ggml order: `dimensions[0]` is the fastest-varying (a row's length).
        public var dimensions: [Int]
        public var typeCode: UInt32
        /// Byte offset from the start of the file.
        public var offset: Int
        public var count: Int { dimensions.reduce(1, *) }
        public var typeName: String { TensorType.names[typeCode] ?? "type \(typeCode)" }
    }

    public let path: String
    public let version: Int
    public let metadata: [String: Value]
    public let tensors: [String: TensorInfo]
    /// Tensor names in file order.
    public let tensorNames: [String]
    private let file: MappedFile
    private var base: UnsafeRawPointer { file.bytes.baseAddress! }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let size = file.bytes.count
        guard size >= 24 else { throw RecError(.data, "\(path): truncated: \(size) bytes is too short for a GGUF header") }
        var reader = Reader(base: file.bytes, path: path)
        guard try reader.bytes(4) == Array("GGUF".utf8) else { throw reader.fail("not a GGUF file (the magic is not 'GGUF')") }
        let version = Int(try reader.scalar(UInt32.self))
        guard version == 2 || version == 3 else { throw reader.fail("GGUF version \(version) is not supported (2 or 3)") }
        self.version = version
        let tensorCount = try reader.items(try reader.scalar(UInt64.self), "tensor count")
        let metadataCount = try reader.items(try reader.scalar(UInt64.self), "metadata count")
        var metadata: [String: Value] = [:]
        for _ in 0..<metadataCount {
            let key = try reader.string()
            metadata[key] = try reader.value(type: try reader.scalar(UInt32.self), key: key)
        }
        var infos: [TensorInfo] = [], names: [String] = [], seen = Set<String>()
        for _ in 0..<tensorCount {
            let name = try reader.string()
            let rank = Int(try reader.scalar(UInt32.self))
            guard rank <= 4 else { throw reader.fail("tensor '\(name)' has \(rank) dimensions (at most 4)") }
            let dimensions = try (0..<rank).map { _ in try reader.count(try reader.scalar(UInt64.self), "dimension of '\(name)'") }
            let type = try reader.scalar(UInt32.self)
            let offset = try reader.count(try reader.scalar(UInt64.self), "offset of '\(name)'")
            // The element count must not overflow: every dimension is at most the file size,
            // but their product need not be.
            var count = 1
            for dimension in dimensions {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= size * 8 else {
                    throw reader.fail("tensor '\(name)' has dimensions \(dimensions): more values than a file of \(size) bytes can hold")
                }
                count = product
            }
            guard seen.insert(name).inserted else { throw reader.fail("tensor '\(name)' is listed twice") }
            infos.append(TensorInfo(name: name, dimensions: dimensions, typeCode: type, offset: offset))
            names.append(name)
        }
        guard let alignment = (metadata["general.alignment"] ?? .uint(32)).int, (1...(1 << 16)).contains(alignment) else {
            throw reader.fail("general.alignment must be an integer from 1 to 65536")
        }
        let dataStart = (reader.position + alignment - 1) / alignment * alignment
        var table: [String: TensorInfo] = [:]
        var extents: [(name: String, range: Range<Int>)] = []
        for var tensor in infos {
            tensor.offset += dataStart
            if let type = TensorType(rawValue: tensor.typeCode) {
                let (values, bytes) = type.block
                guard tensor.dimensions.first.map({ $0 % values == 0 }) ?? true else {
                    throw reader.fail("tensor '\(tensor.name)': rows of \(tensor.dimensions[0]) values do not fill \(tensor.typeName) blocks of \(values)")
                }
                let end = tensor.offset + tensor.count / values * bytes
                guard end <= size else {
                    throw reader.fail("truncated: tensor '\(tensor.name)' ends at byte \(end), the file has \(size)")
                }
                extents.append((tensor.name, tensor.offset..<end))
            }
            table[tensor.name] = tensor
        }
        // llama.cpp's writers lay tensors out back to back, each padded to the alignment. A
        // tensor whose type claims fewer bytes than its slot holds (an F32 tensor relabelled
        // Q8_0, say) leaves a gap; one that claims more overlaps its neighbour.
        if extents.count == infos.count {
            let ordered = extents.sorted { $0.range.lowerBound < $1.range.lowerBound }
            for (a, b) in zip(ordered, ordered.dropFirst()) {
                guard a.range.upperBound <= b.range.lowerBound else {
                    throw reader.fail("tensors '\(a.name)' and '\(b.name)' overlap")
                }
                guard b.range.lowerBound - a.range.upperBound < alignment else {
                    throw reader.fail(
                        "tensor '\(a.name)' (\(table[a.name]!.typeName)) leaves \(b.range.lowerBound - a.range.upperBound) bytes unused before '\(b.name)': its type does not match the data it has")
                }
            }
        }
        self.metadata = metadata
        self.tensors = table
        self.tensorNames = names
    }

    /// A required metadata value, or an error naming the key.
    public func require(_ key: String) throws -> Value {
        guard let value = metadata[key] else { throw RecError(.data, "\(path): metadata key '\(key)' is missing") }
        return value
    }

    /// The tensor `name` as Float32 values in ggml order (row-major with `dimensions[0]` as the
    /// row length). With `dimensions`, the tensor must have exactly those.
    public func floats(_ name: String, dimensions expected: [Int]? = nil) throws -> [Float] {
        guard let tensor = tensors[name] else { throw RecError(.data, "\(path): no tensor '\(name)'") }
        if let expected, expected != tensor.dimensions {
            throw RecError(.data, "\(path): tensor '\(name)' has dimensions \(tensor.dimensions), expected \(expected)")
        }
        guard let type = TensorType(rawValue: tensor.typeCode) else {
            throw RecError(
                .data, "\(path): tensor '\(name)' has type \(tensor.typeName), which RecLab does not read (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K)")
        }
        let source = base + tensor.offset
        return makeArray(tensor.count) { out in GGUFFile.dequantize(type, source, into: out) }
    }

    /// Calls `body` with the start of `tensor`'s data in the mapped file (its size was checked
    /// when the file was opened).
    public func withBytes<T>(of tensor: TensorInfo, _ body: (UnsafeRawPointer) throws -> T) rethrows -> T {
        try body(base + tensor.offset)
    }

    /// Converts `out.count` values of `type` starting at `source`.
    static func dequantize(_ type: TensorType, _ source: UnsafeRawPointer, into out: UnsafeMutableBufferPointer<Float>) {
        func half(_ offset: Int) -> Float { loadHalf(source, at: offset) }
        let n = out.count
        switch type {
        case .f32:
            UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(start: source, count: n * 4))
        case .f16:
            for i in 0..<n { out[i] = half(2 * i) }
        case .bf16:
            for i in 0..<n { out[i] = loadBFloat16(source, at: 2 * i) }
        case .q4_0, .q4_1:
            // d (f16) [, m (f16)], then 16 bytes: value j is the low nibble of byte j, value
            // j + 16 its high nibble; q4_0 is (q - 8) d, q4_1 is q d + m.
            let withMin = type == .q4_1, bytes = withMin ? 20 : 18, header = withMin ? 4 : 2
            for block in 0..<(n / 32) {
                let at = block * bytes, d = half(at), m = withMin ? half(at + 2) : -8 * d
                let quants = source.advanced(by: at + header).assumingMemoryBound(to: UInt8.self)
                let o = block * 32
                for j in 0..<16 {
                    out[o + j] = Float(quants[j] & 0x0F) * d + m
                    out[o + j + 16] = Float(quants[j] >> 4) * d + m
                }
            }
        case .q8_0:
            for block in 0..<(n / 32) {
                let at = block * 34, d = half(at)
                let quants = source.advanced(by: at + 2).assumingMemoryBound(to: Int8.self)
                for j in 0..<32 { out[block * 32 + j] = Float(quants[j]) * d }
            }
        case .q5_0, .q5_1: GGUFBlocks.q5(source, withMin: type == .q5_1, into: out)
        case .q4_K, .q5_K: GGUFBlocks.q45K(source, fifthBit: type == .q5_K, into: out)
        case .q6_K: GGUFBlocks.q6K(source, into: out)
        case .q8_K: GGUFBlocks.q8K(source, into: out)
        }
    }

    /// Little-endian reads with bounds checks; errors carry the file and byte offset.
    struct Reader {
        let base: UnsafeRawBufferPointer
        let path: String
        var position = 0

        init(base: UnsafeRawBufferPointer, path: String) {
            self.base = base
            self.path = path
        }

        func fail(_ message: String) -> RecError { RecError(.data, "\(path): \(message)") }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, position + n <= base.count else {
                throw fail("truncated: needs \(n) bytes at offset \(position), the file has \(base.count)")
            }
            defer { position += n }
            return Array(base[position..<(position + n)])
        }

        mutating func scalar<T: FixedWidthInteger>(_: T.Type) throws -> T {
            guard position + MemoryLayout<T>.size <= base.count else {
                throw fail("truncated: needs \(MemoryLayout<T>.size) bytes at offset \(position), the file has \(base.count)")
            }
            defer { position += MemoryLayout<T>.size }
            return T(littleEndian: base.loadUnaligned(fromByteOffset: position, as: T.self))
        }

        /// A count or size that must fit in what is left of the file.
        func count(_ value: UInt64, _ what: String) throws -> Int {
            guard value <= UInt64(base.count) * 8 else { throw fail("\(what) \(value) at offset \(position - 8) is impossible for a file of \(base.count) bytes") }
            return Int(value)
        }

        /// A count of items of at least one byte each, which must fit in the bytes left.
        func items(_ value: UInt64, _ what: String) throws -> Int {
            guard value <= UInt64(base.count - position) else {
                throw fail("truncated: \(what) \(value) at offset \(position - 8) needs at least \(value) bytes, the file has \(base.count - position) left")
            }
            return Int(value)
        }

        mutating func string() throws -> String {
            let length = try count(try scalar(UInt64.self), "string length")
            let at = position
            let raw = try bytes(length)
            guard let text = String(validating: raw, as: UTF8.self) else { throw fail("invalid UTF-8 in a string at offset \(at)") }
            return text
        }

        /// Arrays of arrays are allowed this deep (llama.cpp writes none nested).
        static let maxNesting = 4

        mutating func value(type: UInt32, key: String, depth: Int = 0) throws -> Value {
            switch type {
            case 0: return .uint(UInt64(try scalar(UInt8.self)))
            case 1: return .int(Int64(try scalar(Int8.self)))
            case 2: return .uint(UInt64(try scalar(UInt16.self)))
            case 3: return .int(Int64(try scalar(Int16.self)))
            case 4: return .uint(UInt64(try scalar(UInt32.self)))
            case 5: return .int(Int64(try scalar(Int32.self)))
            case 6: return .float(Double(Float(bitPattern: try scalar(UInt32.self))))
            case 7: return .bool(try scalar(UInt8.self) != 0)
            case 8: return .string(try string())
            case 9:
                guard depth < Self.maxNesting else { throw fail("metadata '\(key)' nests arrays deeper than \(Self.maxNesting) levels") }
                let elementType = try scalar(UInt32.self)
                let n = try items(try scalar(UInt64.self), "array length of '\(key)'")
                var elements: [Value] = []
                for _ in 0..<n { elements.append(try value(type: elementType, key: key, depth: depth + 1)) }
                return .array(elements)
            case 10: return .uint(try scalar(UInt64.self))
            case 11: return .int(Int64(bitPattern: try scalar(UInt64.self)))
            case 12: return .float(Double(bitPattern: try scalar(UInt64.self)))
            default: throw fail("metadata '\(key)' has unknown value type \(type)")
            }
        }
    }
}
