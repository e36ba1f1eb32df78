import Foundation

/// Writes GGUF (version 3) files for tests: typed metadata, F32 tensors laid out as llama.cpp
/// lays them (back to back, each padded to the alignment), and hooks to write a file wrong on
/// purpose. `tinyLlama` builds a complete, loadable llama model of a few kilobytes.
public struct GGUFBuilder: Sendable {
    public enum Value: Sendable {
        case uint32(UInt32), int32(Int32), float32(Float), bool(Bool), string(String), uint64(UInt64)
        /// An array of one element type (the type of the first element; `.strings` for text).
        case strings([String]), int32s([Int32])
        /// Raw bytes standing in for a value of `type` (for malformed files).
        case raw(type: UInt32, bytes: [UInt8])
    }

    public struct TensorEntry: Sendable {
        public var name: String
        public var dimensions: [UInt64]
        public var type: UInt32
        public var data: [UInt8]
        /// Written in place of the computed offset when set.
        public var offsetOverride: UInt64?
    }

    public var metadata: [(String, Value)] = []
    public var tensors: [TensorEntry] = []
    public var alignment = 32
    /// Written in place of the real tensor count when set.
    public var tensorCountOverride: UInt64?

    public init() {}

    public mutating func set(_ key: String, _ value: Value) {
        if let index = metadata.firstIndex(where: { $0.0 == key }) { metadata[index].1 = value } else { metadata.append((key, value)) }
    }

    public mutating func remove(_ key: String) { metadata.removeAll { $0.0 == key } }

    /// An F32 tensor with `dimensions` in ggml order (`dimensions[0]` is a row's length).
    public mutating func addF32(_ name: String, _ dimensions: [Int], values: [Float]? = nil, seed: UInt64 = 1) {
        let count = dimensions.reduce(1, *)
        var rng = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let floats =
            values
            ?? (0..<count).map { _ in
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                return Float(Int64(rng % 2001) - 1000) / 10_000
            }
        var data = [UInt8]()
        for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 } }
        tensors.append(TensorEntry(name: name, dimensions: dimensions.map(UInt64.init), type: 0, data: data))
    }

    public func bytes() -> [UInt8] {
        var out = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        u32(3)
        u64(tensorCountOverride ?? UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case .uint32(let v): u32(4); u32(v)
            case .int32(let v): u32(5); u32(UInt32(bitPattern: v))
            case .float32(let v): u32(6); u32(v.bitPattern)
            case .bool(let v): u32(7); out.append(v ? 1 : 0)
            case .string(let v): u32(8); string(v)
            case .uint64(let v): u32(10); u64(v)
            case .strings(let list): u32(9); u32(8); u64(UInt64(list.count)); list.forEach(string)
            case .int32s(let list): u32(9); u32(5); u64(UInt64(list.count)); list.forEach { u32(UInt32(bitPattern: $0)) }
            case .raw(let type, let bytes): u32(type); out += bytes
            }
        }
        var offset: UInt64 = 0
        var offsets: [UInt64] = []
        for tensor in tensors {
            offsets.append(offset)
            offset += UInt64(tensor.data.count)
            offset = (offset + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
        }
        for (tensor, start) in zip(tensors, offsets) {
            string(tensor.name)
            u32(UInt32(tensor.dimensions.count))
            tensor.dimensions.forEach(u64)
            u32(tensor.type)
            u64(tensor.offsetOverride ?? start)
        }
        while out.count % alignment != 0 { out.append(0) }
        for tensor in tensors {
            out += tensor.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    public func write(to path: String) throws {
        try Data(bytes()).write(to: URL(fileURLWithPath: path))
    }

    /// A llama model small enough to build in a test: 1 layer, 2 heads, a byte-level
    /// vocabulary of the 256 byte tokens plus `<|endoftext|>`, random F32 weights. Exact
    /// numerics need `hidden` 128 (heads of 64).
    public static func tinyLlama(hidden: Int = 8) -> GGUFBuilder {
        var b = GGUFBuilder()
        let feedForward = 2 * hidden
        b.set("general.architecture", .string("llama"))
        b.set("llama.block_count", .uint32(1))
        b.set("llama.embedding_length", .uint32(UInt32(hidden)))
        b.set("llama.attention.head_count", .uint32(2))
        b.set("llama.attention.head_count_kv", .uint32(2))
        b.set("llama.feed_forward_length", .uint32(UInt32(feedForward)))
        b.set("llama.context_length", .uint32(64))
        b.set("llama.rope.freq_base", .float32(10_000))
        b.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        b.set("tokenizer.ggml.model", .string("gpt2"))
        b.set("tokenizer.ggml.pre", .string("default"))
        var tokens = byteLevelAlphabet()
        tokens.append("<|endoftext|>")
        b.set("tokenizer.ggml.tokens", .strings(tokens))
        b.set("tokenizer.ggml.token_type", .int32s(tokens.indices.map { $0 == tokens.count - 1 ? 3 : 1 }))
        b.set("tokenizer.ggml.merges", .strings([]))
        b.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 1)))
        let v = tokens.count
        b.addF32("token_embd.weight", [hidden, v], seed: 1)
        b.addF32("output_norm.weight", [hidden], values: [Float](repeating: 1, count: hidden))
        b.addF32("blk.0.attn_norm.weight", [hidden], values: [Float](repeating: 1, count: hidden))
        b.addF32("blk.0.ffn_norm.weight", [hidden], values: [Float](repeating: 1, count: hidden))
        b.addF32("blk.0.attn_q.weight", [hidden, hidden], seed: 2)
        b.addF32("blk.0.attn_k.weight", [hidden, hidden], seed: 3)
        b.addF32("blk.0.attn_v.weight", [hidden, hidden], seed: 4)
        b.addF32("blk.0.attn_output.weight", [hidden, hidden], seed: 5)
        b.addF32("blk.0.ffn_gate.weight", [hidden, feedForward], seed: 6)
        b.addF32("blk.0.ffn_up.weight", [hidden, feedForward], seed: 7)
        b.addF32("blk.0.ffn_down.weight", [feedForward, hidden], seed: 8)
        return b
    }

    /// GPT-2's byte-to-character table: bytes that are printable map to themselves, the rest
    /// to code points from 256 on.
    static func byteLevelAlphabet() -> [String] {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var scalars = printable
        var extra = 0
        for byte in 0..<256 where !printable.contains(byte) {
            printable.append(byte)
            scalars.append(256 + extra)
            extra += 1
        }
        return zip(printable, scalars).sorted { $0.0 < $1.0 }.map { String(UnicodeScalar(UInt32($0.1))!) }
    }
}
