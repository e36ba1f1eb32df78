import Foundation
import RecCore

// Matrix-vector and matrix-matrix products on ggml's block-quantised weights, with ggml's own
// arithmetic: activations are quantised per block of 32 to 8 bits (Q8_1 against Q4_1 weights,
// Q8_0 against Q4_0 and Q8_0), each block's integer dot product is split into eight partial
// sums of four consecutive values, and those are scaled and accumulated lane by lane with
// fused multiply-adds, then summed in ggml's order. Integer sums of at most 32 products of
// 4-bit or 8-bit values are exact in Float32, so doing them in Float32 changes nothing: the
// results match llama.cpp's CPU backend up to the order of a few Float32 additions.
//
// This module is compiled for Haswell (AVX2, FMA, F16C, BMI2; see Package.swift) and is kept
// small on purpose: nothing here is @inlinable, so no caller compiled for the baseline inlines
// these loops, and `BlockQuantized.supported` tells callers whether this CPU can run them.

/// Weights `[rows, columns]` in one of ggml's block formats, repacked once at load time: in
/// each block of 32, value `4k + r` sits at position `8r + k`, so that eight SIMD lanes each
/// collect one group of four consecutive values with vertical operations only.
public struct BlockQuantizedMatrix: Sendable {
    public enum Format: String, Sendable { case q4_0 = "Q4_0", q4_1 = "Q4_1", q8_0 = "Q8_0" }
    public let format: Format
    public let rows: Int, columns: Int
    /// Blocks per row.
    public var blocks: Int { columns / 32 }
    /// Q4: four 32-bit words a block, word r holding positions 8r..8r+7 in its nibbles (lowest
    /// first), so one broadcast, shift and mask gives eight lanes; Q8_0: 32 bytes a block in
    /// position order (two's-complement values).
    let quants: [UInt8]
    /// The scale `d` of every block (widened from Float16, so exact).
    let scales: [Float]
    /// Q4_1: the offset `m` of every block; empty otherwise.
    let offsets: [Float]

    /// Position of value `j` of a block in the repacked order.
    @inline(__always) static func position(_ j: Int) -> Int { (j % 4) * 8 + j / 4 }

    /// Reads `rows` rows of `columns` values stored in ggml's layout at `source`.
    public init(format: Format, rows: Int, columns: Int, source: UnsafeRawPointer) {
        precondition(columns % 32 == 0)
        self.format = format
        self.rows = rows
        self.columns = columns
        let count = rows * columns / 32
        let (blockBytes, header, packed) = switch format {
        case .q4_0: (18, 2, 16)
        case .q4_1: (20, 4, 16)
        case .q8_0: (34, 2, 32)
        }
        func half(_ at: Int) -> Float { Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian)) }
        scales = (0..<count).map { half($0 * blockBytes) }
        offsets = format == .q4_1 ? (0..<count).map { half($0 * blockBytes + 2) } : []
        quants = [UInt8](unsafeUninitializedCapacity: count * packed) { out, initialized in
            initialized = count * packed
            for block in 0..<count {
                let q = source + block * blockBytes + header, o = block * packed
                if format == .q8_0 {
                    for j in 0..<32 { out[o + Self.position(j)] = q.load(fromByteOffset: j, as: UInt8.self) }
                } else {
                    for j in 0..<16 { out[o + j] = 0 }
                    for j in 0..<32 {
                        let byte = q.load(fromByteOffset: j % 16, as: UInt8.self)
                        let value = j < 16 ? byte & 0x0F : byte >> 4, p = Self.position(j)
                        // Word p / 8 (little-endian), nibble p % 8.
                        out[o + 4 * (p / 8) + (p % 8) / 2] |= p % 2 == 0 ? value : value << 4
                    }
                }
            }
        }
    }

    /// Matrices of one format and width stacked row-wise (query, key and value, say).
    public init(stacking parts: [BlockQuantizedMatrix]) {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.format == parts[0].format && $0.columns == parts[0].columns })
        format = parts[0].format
        columns = parts[0].columns
        rows = parts.map(\.rows).reduce(0, +)
        quants = parts.flatMap(\.quants)
        scales = parts.flatMap(\.scales)
        offsets = parts.flatMap(\.offsets)
    }

    /// Row `row` widened to Float32 (`d q + m`, or `d (q - 8)`), as ggml's `get_rows` does.
    public func row(_ row: Int) -> [Float] {
        var values = [Float](repeating: 0, count: columns)
        for b in 0..<blocks {
            let block = row * blocks + b, d = scales[block]
            for j in 0..<32 {
                let p = Self.position(j)
                switch format {
                case .q8_0: values[b * 32 + j] = Float(Int8(bitPattern: quants[block * 32 + p])) * d
                case .q4_0, .q4_1:
                    let byte = quants[block * 16 + 4 * (p / 8) + (p % 8) / 2], q = p % 2 == 0 ? byte & 0x0F : byte >> 4
                    values[b * 32 + j] = format == .q4_1 ? Float(q) * d + offsets[block] : Float(Int(q) - 8) * d
                }
            }
        }
        return values
    }

    /// Whether this CPU has the instructions the kernels are compiled for (x86-64-v3).
    public static let supported: Bool = {
        #if arch(x86_64)
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let have = Set(flags.split(separator: " ").map(String.init))
        return ["avx2", "fma", "f16c", "bmi2"].allSatisfy(have.contains)
        #else
        return true
        #endif
    }()
}

/// Rows of Float32 activations quantised to 8 bits per block of 32 exactly as ggml's
/// `quantize_row_q8_1` does (`d = max|x| / 127`, `q = round(x · 127 / max|x|)`, `d` and
/// `s = d Σq` stored as Float16), kept as Float32 integers in the repacked block order.
public struct QuantizedActivations {
    public let rows: Int, columns: Int
    var blocks: Int { columns / 32 }
    var values: [Float]
    /// `d` per block, rounded through Float16.
    var scales: [Float]
    /// `s = d Σq` per block, rounded through Float16 (used against Q4_1).
    var sums: [Float]

    public init(_ x: UnsafePointer<Float>, rows: Int, columns: Int) {
        precondition(columns % 32 == 0)
        self.rows = rows
        self.columns = columns
        let count = rows * columns / 32
        var scales = [Float](repeating: 0, count: count), sums = scales
        values = [Float](unsafeUninitializedCapacity: count * 32) { out, initialized in
            initialized = count * 32
            for block in 0..<count {
                let v = x + block * 32
                var maximum: Float = 0
                for j in 0..<32 { maximum = max(maximum, abs(v[j])) }
                let d = maximum / 127, inverse = maximum != 0 ? 127 / maximum : 0
                var sum = 0
                for j in 0..<32 {
                    let q = (v[j] * inverse).rounded(.toNearestOrEven)
                    out[block * 32 + BlockQuantizedMatrix.position(j)] = q
                    sum += Int(q)
                }
                scales[block] = Float(Float16(d))
                sums[block] = Float(Float16(d * Float(sum)))
            }
        }
        self.scales = scales
        self.sums = sums
    }
}

/// ggml's `hsum_float_8`: ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)).
@inline(__always) func horizontalSum(_ a: SIMD8<Float>) -> Float {
    let four = a.lowHalf + a.highHalf, two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// Nibble k of each lane's word: shifts 0, 4, …, 28.
let nibbleShifts = SIMD8<UInt32>(0, 4, 8, 12, 16, 20, 24, 28)

/// Small non-negative integers to Float32 exactly: 2²³ + n has n in its low mantissa bits.
@inline(__always) func exactFloats(_ n: SIMD8<UInt32>, minus offset: Float) -> SIMD8<Float> {
    unsafeBitCast(n | 0x4B00_0000, to: SIMD8<Float>.self) - (8_388_608 + offset)
}

/// The 32 weights of one block as four vectors of eight: vector r lane k is value 4k + r.
@inline(__always) func widen(_ format: BlockQuantizedMatrix.Format, _ block: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    if format == .q8_0 {
        @inline(__always) func part(_ r: Int) -> SIMD8<Float> {
            SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: block.loadUnaligned(fromByteOffset: 8 * r, as: SIMD8<Int8>.self)))
        }
        return (part(0), part(1), part(2), part(3))
    }
    let offset: Float = format == .q4_0 ? 8 : 0
    @inline(__always) func part(_ r: Int) -> SIMD8<Float> {
        exactFloats((SIMD8(repeating: block.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self)) &>> nibbleShifts) & 15, minus: offset)
    }
    return (part(0), part(1), part(2), part(3))
}

typealias Block = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// 32 activations in the repacked order, as four vectors of eight.
@inline(__always) func load(_ x: UnsafePointer<Float>) -> Block {
    let raw = UnsafeRawPointer(x)
    return (raw.loadUnaligned(as: SIMD8<Float>.self), raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
            raw.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), raw.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
}

/// The eight partial sums of one block: lane k holds Σ_r w[4k+r] x[4k+r]. Every product and
/// sum is an integer below 2²⁴, so any order gives the exact value; a tree keeps the chain short.
@inline(__always) func blockDot(_ w: Block, _ x: Block) -> SIMD8<Float> {
    (w.0 * x.0).addingProduct(w.1, x.1) + (w.2 * x.2).addingProduct(w.3, x.3)
}

/// One output's running state: ggml's eight-lane accumulator and the Q4_1 offset sum.
struct Accumulator {
    var lanes = SIMD8<Float>(), offsets: Float = 0

    /// ggml: `acc = fma(d_w d_x, xy, acc)`, and for Q4_1 `summs += m s` (contracted to a
    /// fused multiply-add, as GCC does at -O3).
    @inline(__always) mutating func add(_ xy: SIMD8<Float>, scale: Float, offset: (m: Float, s: Float)?) {
        lanes = lanes.addingProduct(SIMD8(repeating: scale), xy)
        if let offset { offsets = offsets.addingProduct(offset.m, offset.s) }
    }

    @inline(__always) var value: Float { horizontalSum(lanes) + offsets }
}

extension BlockQuantizedMatrix {
    /// `out[t · stride + r] (+)= Σ_c W[r, c] x[t, c]` for every row `r` and activation row `t`,
    /// with ggml's arithmetic, rows split across the cores. Four outputs are computed at once
    /// (four rows for one token, four tokens for several) so their dependency chains overlap.
    public func multiply(_ x: QuantizedActivations, into out: UnsafeMutablePointer<Float>, stride rowStride: Int, accumulate: Bool = false) {
        precondition(x.columns == columns)
        let target = UncheckedSendable(out)
        let (tokens, blocks, format) = (x.rows, self.blocks, self.format)
        let blockBytes = format == .q8_0 ? 32 : 16
        quants.withUnsafeBytes { q in scales.withUnsafeBufferPointer { ws in offsets.withUnsafeBufferPointer { wm in
            x.values.withUnsafeBufferPointer { xv in x.scales.withUnsafeBufferPointer { xd in x.sums.withUnsafeBufferPointer { xs in
                let p = UncheckedSendable((q.baseAddress!, ws.baseAddress!, wm.baseAddress, xv.baseAddress!, xd.baseAddress!, xs.baseAddress!))
                parallelChunks(ProcessInfo.processInfo.environment["RECQUANT_THREADS"].flatMap { Int($0) } ?? rows) { chunk, count in
                    let (q, ws, wm, xv, xd, xs) = p.value
                    let first = chunk * rows / count, end = (chunk + 1) * rows / count
                    let hasOffsets = format == .q4_1
                    @inline(__always) func weights(_ r: Int, _ b: Int) -> Block { widen(format, q + (r * blocks + b) * blockBytes) }
                    /// Q4_1's `m s` term for row r and token t at block b (nil for other formats).
                    @inline(__always) func offset(_ r: Int, _ t: Int, _ b: Int) -> (m: Float, s: Float)? {
                        hasOffsets ? (wm.unsafelyUnwrapped[r * blocks + b], xs[t * blocks + b]) : nil
                    }
                    @inline(__always) func store(_ r: Int, _ t: Int, _ value: Float) {
                        let o = target.value + t * rowStride + r
                        o.pointee = accumulate ? o.pointee + value : value
                    }
                    if tokens == 1 {
                        var r = first
                        while r < end {
                            let n = min(4, end - r)
                            var acc = (Accumulator(), Accumulator(), Accumulator(), Accumulator())
                            for b in 0..<blocks {
                                let xb = load(xv + b * 32), d = xd[b]
                                @inline(__always) func step(_ i: Int, _ a: inout Accumulator) {
                                    a.add(blockDot(weights(r + i, b), xb), scale: ws[(r + i) * blocks + b] * d, offset: offset(r + i, 0, b))
                                }
                                step(0, &acc.0)
                                if n == 4 {
                                    step(1, &acc.1)
                                    step(2, &acc.2)
                                    step(3, &acc.3)
                                } else {
                                    if n > 1 { step(1, &acc.1) }
                                    if n > 2 { step(2, &acc.2) }
                                }
                            }
                            store(r, 0, acc.0.value)
                            if n > 1 { store(r + 1, 0, acc.1.value) }
                            if n > 2 { store(r + 2, 0, acc.2.value) }
                            if n > 3 { store(r + 3, 0, acc.3.value) }
                            r += n
                        }
                        return
                    }
                    // Several tokens: widen each row once per tile of tokens (a tile's
                    // activations stay in cache), then run the tile over it four at a time.
                    let widened = UnsafeMutablePointer<Block>.allocate(capacity: blocks)
                    defer { widened.deallocate() }
                    for tile in Swift.stride(from: 0, to: tokens, by: 32) {
                        let tileEnd = min(tokens, tile + 32)
                        for r in first..<end {
                            for b in 0..<blocks { widened[b] = weights(r, b) }
                            var t = tile
                            while t < tileEnd {
                                let n = min(4, tileEnd - t)
                                var acc = (Accumulator(), Accumulator(), Accumulator(), Accumulator())
                                for b in 0..<blocks {
                                    let w = widened[b], scale = ws[r * blocks + b]
                                    @inline(__always) func step(_ i: Int, _ a: inout Accumulator) {
                                        let tb = (t + i) * blocks + b
                                        a.add(blockDot(w, load(xv + tb * 32)), scale: scale * xd[tb], offset: offset(r, t + i, b))
                                    }
                                    step(0, &acc.0)
                                    if n == 4 {
                                        step(1, &acc.1)
                                        step(2, &acc.2)
                                        step(3, &acc.3)
                                    } else {
                                        if n > 1 { step(1, &acc.1) }
                                        if n > 2 { step(2, &acc.2) }
                                    }
                                }
                                store(r, t, acc.0.value)
                                if n > 1 { store(r, t + 1, acc.1.value) }
                                if n > 2 { store(r, t + 2, acc.2.value) }
                                if n > 3 { store(r, t + 3, acc.3.value) }
                                t += n
                            }
                        }
                    }
                }
            } } }
        } } }
    }
}

/// Rounds `count` values to the nearest Float16 and back (F16C's round-to-nearest-even, as
/// ggml's conversions do).
public func roundThroughHalf(_ x: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { x[i] = Float(Float16(x[i])) }
}
