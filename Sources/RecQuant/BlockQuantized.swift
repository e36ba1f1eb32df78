import Foundation
import RecCore

// Matrix-vector and matrix-matrix products on ggml's block-quantised weights, with ggml's own
// arithmetic: activations are quantised per block of 32 to 8 bits (Q8_1 against Q4_1 weights,
// Q8_0 against Q4_0 and Q8_0), each block's integer dot product is split into eight partial
// sums of four consecutive values, and those are scaled and accumulated lane by lane with
// fused multiply-adds, then summed in ggml's order. Integer sums of at most 32 products of
// 4-bit or 8-bit values are exact in Float32, so doing them in Float32 changes nothing, and
// every rounding step is ggml's: the results are llama.cpp's CPU backend's, bit for bit.
//
// This module is compiled for Haswell (AVX2, FMA, F16C, BMI2; see Package.swift) and is kept
// small on purpose: nothing here is @inlinable, so no caller compiled for the baseline inlines
// these loops, and `BlockQuantizedMatrix.supported` tells callers whether this CPU can run them.

/// Weights `[rows, columns]` in one of ggml's block formats, repacked once at load time (see
/// `quants`) so that eight SIMD lanes each collect one group of four consecutive values with
/// vertical operations only.
public struct BlockQuantizedMatrix: Sendable {
    public enum Format: String, Sendable { case q4_0 = "Q4_0", q4_1 = "Q4_1", q8_0 = "Q8_0" }
    public let format: Format
    public let rows: Int, columns: Int
    /// Blocks per row.
    public var blocks: Int { columns / 32 }
    /// Row by row. Q4: 32 bytes per pair of blocks (2i, 2i + 1), eight little-endian words;
    /// word k holds value 4k + r of block 2i + h in bits 16h + 4r (a row with an odd number of
    /// blocks ends in a half-empty pair), so one load, shift and mask gives eight lanes. Q8_0:
    /// ggml's own 32 bytes a block (word k holds values 4k…4k+3, so two shifts sign-extend).
    let quants: [UInt8]
    /// The scale `d` of every block (widened from Float16, so exact).
    let scales: [Float]
    /// Q4_1: the offset `m` of every block; empty otherwise.
    let offsets: [Float]

    /// Position of value `j` of a block in the activations' order: vector r (positions
    /// 8r…8r+7) lane k holds value 4k + r.
    @inline(__always) static func position(_ j: Int) -> Int { (j % 4) * 8 + j / 4 }

    /// Reads `rows` rows of `columns` values stored in ggml's layout at `source`.
    public init(format: Format, rows: Int, columns: Int, source: UnsafeRawPointer) {
        precondition(columns % 32 == 0)
        self.format = format
        self.rows = rows
        self.columns = columns
        let count = rows * columns / 32
        let (blockBytes, header) = switch format {
        case .q4_0: (18, 2)
        case .q4_1: (20, 4)
        case .q8_0: (34, 2)
        }
        func half(_ at: Int) -> Float { Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian)) }
        scales = (0..<count).map { half($0 * blockBytes) }
        offsets = format == .q4_1 ? (0..<count).map { half($0 * blockBytes + 2) } : []
        let blocks = columns / 32, rowBytes = Self.rowBytes(format, blocks: blocks)
        quants = [UInt8](unsafeUninitializedCapacity: rows * rowBytes) { out, initialized in
            initialized = rows * rowBytes
            for i in 0..<initialized { out[i] = 0 }
            for block in 0..<count {
                let q = source + block * blockBytes + header, (row, b) = block.quotientAndRemainder(dividingBy: blocks)
                for j in 0..<32 {
                    let (at, shift) = Self.location(format, rowBytes: rowBytes, row: row, block: b, value: j)
                    if format == .q8_0 {
                        out[at] = q.load(fromByteOffset: j, as: UInt8.self)
                    } else {
                        let byte = q.load(fromByteOffset: j % 16, as: UInt8.self)
                        out[at] |= (j < 16 ? byte & 0x0F : byte >> 4) << shift
                    }
                }
            }
        }
    }

    /// Bytes of one repacked row.
    static func rowBytes(_ format: Format, blocks: Int) -> Int { format == .q8_0 ? 32 * blocks : 32 * ((blocks + 1) / 2) }

    /// Byte and bit shift of value j of block b in a row (see `quants`).
    static func location(_ format: Format, rowBytes: Int, row: Int, block b: Int, value j: Int) -> (byte: Int, shift: UInt8) {
        if format == .q8_0 { return (row * rowBytes + 32 * b + j, 0) }
        let bit = 16 * (b % 2) + 4 * (j % 4)
        return (row * rowBytes + 32 * (b / 2) + 4 * (j / 4) + bit / 8, UInt8(bit % 8))
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
        let rowBytes = Self.rowBytes(format, blocks: blocks)
        for b in 0..<blocks {
            let block = row * blocks + b, d = scales[block]
            for j in 0..<32 {
                let (at, shift) = Self.location(format, rowBytes: rowBytes, row: row, block: b, value: j)
                switch format {
                case .q8_0: values[b * 32 + j] = Float(Int8(bitPattern: quants[at])) * d
                case .q4_0, .q4_1:
                    let q = (quants[at] >> shift) & 0x0F
                    values[b * 32 + j] = format == .q4_1 ? Float(q) * d + offsets[block] : Float(Int(q) - 8) * d
                }
            }
        }
        return values
    }

    /// Whether this CPU has the instructions the kernels are compiled for (Haswell: AVX2, FMA,
    /// F16C, BMI2). Elsewhere than x86-64 the module is portable Swift.
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
/// `s = d Σq` stored as Float16), kept as Float32 integers in the order of `position(_:)`.
public struct QuantizedActivations {
    public let rows: Int, columns: Int
    var values: [Float]
    /// `d` per block, rounded through Float16.
    var scales: [Float]
    /// `s = d Σq` per block, rounded through Float16 (used against Q4_1).
    var sums: [Float]
    /// `scales` and `sums` indexed `[block · rows + row]`.
    var scalesByBlock: [Float], sumsByBlock: [Float]

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
        // Block-major copies, so the batched kernel loads eight tokens' values at once.
        let blocks = columns / 32
        scalesByBlock = (0..<count).map { scales[($0 % rows) * blocks + $0 / rows] }
        sumsByBlock = (0..<count).map { sums[($0 % rows) * blocks + $0 / rows] }
    }
}

/// ggml's `hsum_float_8`: ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)).
@inline(__always) func horizontalSum(_ a: SIMD8<Float>) -> Float {
    let four = a.lowHalf + a.highHalf, two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// A block format's kernel-side decoding, as a type so each kernel is specialised for it.
protocol BlockLayout {
    /// Whether blocks carry an offset `m` (Q4_1), multiplied by the activation block's `s`.
    static var hasOffsets: Bool { get }
    /// Block b of the repacked row at `row` as four vectors of eight: vector r lane k is
    /// value 4k + r, as an exact Float32 integer.
    static func widen(_ row: UnsafeRawPointer, _ b: Int) -> Block
}

/// Q4_0 and Q4_1 (see `BlockQuantizedMatrix.quants`): a shift and a mask per vector.
protocol NibbleLayout: BlockLayout {
    /// Subtracted from every nibble (8 for Q4_0).
    static var bias: Float { get }
}

extension NibbleLayout {
    @inline(__always) static func widen(_ row: UnsafeRawPointer, _ b: Int) -> Block {
        let words = row.loadUnaligned(fromByteOffset: 32 * (b >> 1), as: SIMD8<Int32>.self), base = Int32(16 * (b & 1))
        @inline(__always) func part(_ r: Int32) -> SIMD8<Float> { SIMD8<Float>((words &>> (base + 4 * r)) & 15) - bias }
        return (part(0), part(1), part(2), part(3))
    }
}

enum Q4_0Layout: NibbleLayout {
    static var hasOffsets: Bool { false }
    static var bias: Float { 8 }
}

enum Q4_1Layout: NibbleLayout {
    static var hasOffsets: Bool { true }
    static var bias: Float { 0 }
}

/// Q8_0: ggml's 32 two's-complement bytes a block; byte r of word k is value 4k + r.
enum Q8_0Layout: BlockLayout {
    static var hasOffsets: Bool { false }
    @inline(__always) static func widen(_ row: UnsafeRawPointer, _ b: Int) -> Block {
        let words = row.loadUnaligned(fromByteOffset: 32 * b, as: SIMD8<Int32>.self)
        @inline(__always) func part(_ r: Int32) -> SIMD8<Float> { SIMD8<Float>((words &<< (24 - 8 * r)) &>> 24) }
        return (part(0), part(1), part(2), part(3))
    }
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

/// Raw views of one product's operands, shared by the worker threads.
struct Operands: @unchecked Sendable {
    var quants: UnsafeRawPointer, scales: UnsafePointer<Float>, offsets: UnsafePointer<Float>?
    var x: UnsafePointer<Float>, xScales: UnsafePointer<Float>, xSums: UnsafePointer<Float>
    var xScalesByBlock: UnsafePointer<Float>, xSumsByBlock: UnsafePointer<Float>
    var out: UnsafeMutablePointer<Float>
    var blocks: Int, rowBytes: Int, tokens: Int, stride: Int, accumulate: Bool
}

/// Rows `first..<end` of one product, specialised for a block layout. ggml per output:
/// `acc = fma(d_w d_x, xy, acc)` over blocks (eight lanes), `summs = fma(m, s, summs)` for
/// Q4_1 (GCC contracts ggml's `summs += m s` at -O3), then `hsum(acc) + summs`.
@inline(never)
func kernel<L: BlockLayout>(_: L.Type, _ o: Operands, rows first: Int, _ end: Int) {
    let blocks = o.blocks, rowBytes = o.rowBytes
    @inline(__always) func store(_ r: Int, _ t: Int, _ lanes: SIMD8<Float>, _ summs: Float) {
        let value = horizontalSum(lanes) + summs, at = o.out + t * o.stride + r
        at.pointee = o.accumulate ? at.pointee + value : value
    }
    if o.tokens == 1 {
        // One token: four rows at a time share each activation block.
        var r = first
        while r + 4 <= end {
            var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0
            var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
            let w0 = o.quants + r * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes
            let d0 = o.scales + r * blocks, d1 = d0 + blocks, d2 = d1 + blocks, d3 = d2 + blocks
            for b in 0..<blocks {
                let x = load(o.x + b * 32), dx = o.xScales[b]
                a0 = a0.addingProduct(SIMD8(repeating: d0[b] * dx), blockDot(L.widen(w0, b), x))
                a1 = a1.addingProduct(SIMD8(repeating: d1[b] * dx), blockDot(L.widen(w1, b), x))
                a2 = a2.addingProduct(SIMD8(repeating: d2[b] * dx), blockDot(L.widen(w2, b), x))
                a3 = a3.addingProduct(SIMD8(repeating: d3[b] * dx), blockDot(L.widen(w3, b), x))
                if L.hasOffsets {
                    let m = o.offsets.unsafelyUnwrapped + r * blocks + b, s = o.xSums[b]
                    s0 = s0.addingProduct(m[0], s)
                    s1 = s1.addingProduct(m[blocks], s)
                    s2 = s2.addingProduct(m[2 * blocks], s)
                    s3 = s3.addingProduct(m[3 * blocks], s)
                }
            }
            store(r, 0, a0, s0)
            store(r + 1, 0, a1, s1)
            store(r + 2, 0, a2, s2)
            store(r + 3, 0, a3, s3)
            r += 4
        }
        while r < end {
            var a = SIMD8<Float>(), s: Float = 0
            for b in 0..<blocks {
                a = a.addingProduct(SIMD8(repeating: o.scales[r * blocks + b] * o.xScales[b]),
                                    blockDot(L.widen(o.quants + r * rowBytes, b), load(o.x + b * 32)))
                if L.hasOffsets { s = s.addingProduct(o.offsets.unsafelyUnwrapped[r * blocks + b], o.xSums[b]) }
            }
            store(r, 0, a, s)
            r += 1
        }
        return
    }
    // Several tokens: widen each row once per tile of tokens (a tile's activations stay in
    // cache), then run the tile over it, eight tokens at a time.
    let widened = UnsafeMutablePointer<Block>.allocate(capacity: blocks)
    defer { widened.deallocate() }
    for tile in Swift.stride(from: 0, to: o.tokens, by: 32) {
        let tileEnd = min(o.tokens, tile + 32)
        for r in first..<end {
            for b in 0..<blocks { widened[b] = L.widen(o.quants + r * rowBytes, b) }
            let d = o.scales + r * blocks
            var t = tile
            while t + 8 <= tileEnd {
                var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, summs = a0
                let x0 = o.x + t * blocks * 32, step = blocks * 32
                for b in 0..<blocks {
                    // Eight tokens' d_w d_x and m s at once: the same products, lane by lane.
                    let w = widened[b], at = b * o.tokens + t, xb = x0 + b * 32
                    let scale = SIMD8(repeating: d[b]) * UnsafeRawPointer(o.xScalesByBlock + at).loadUnaligned(as: SIMD8<Float>.self)
                    a0 = a0.addingProduct(SIMD8(repeating: scale[0]), blockDot(w, load(xb)))
                    a1 = a1.addingProduct(SIMD8(repeating: scale[1]), blockDot(w, load(xb + step)))
                    a2 = a2.addingProduct(SIMD8(repeating: scale[2]), blockDot(w, load(xb + 2 * step)))
                    a3 = a3.addingProduct(SIMD8(repeating: scale[3]), blockDot(w, load(xb + 3 * step)))
                    a4 = a4.addingProduct(SIMD8(repeating: scale[4]), blockDot(w, load(xb + 4 * step)))
                    a5 = a5.addingProduct(SIMD8(repeating: scale[5]), blockDot(w, load(xb + 5 * step)))
                    a6 = a6.addingProduct(SIMD8(repeating: scale[6]), blockDot(w, load(xb + 6 * step)))
                    a7 = a7.addingProduct(SIMD8(repeating: scale[7]), blockDot(w, load(xb + 7 * step)))
                    if L.hasOffsets {
                        summs = summs.addingProduct(SIMD8(repeating: o.offsets.unsafelyUnwrapped[r * blocks + b]),
                                                    UnsafeRawPointer(o.xSumsByBlock + at).loadUnaligned(as: SIMD8<Float>.self))
                    }
                }
                store(r, t, a0, summs[0])
                store(r, t + 1, a1, summs[1])
                store(r, t + 2, a2, summs[2])
                store(r, t + 3, a3, summs[3])
                store(r, t + 4, a4, summs[4])
                store(r, t + 5, a5, summs[5])
                store(r, t + 6, a6, summs[6])
                store(r, t + 7, a7, summs[7])
                t += 8
            }
            while t < tileEnd {
                var a = SIMD8<Float>(), s: Float = 0
                for b in 0..<blocks {
                    a = a.addingProduct(SIMD8(repeating: d[b] * o.xScales[t * blocks + b]), blockDot(widened[b], load(o.x + (t * blocks + b) * 32)))
                    if L.hasOffsets { s = s.addingProduct(o.offsets.unsafelyUnwrapped[r * blocks + b], o.xSums[t * blocks + b]) }
                }
                store(r, t, a, s)
                t += 1
            }
        }
    }
}

extension BlockQuantizedMatrix {
    /// `out[t · stride + r] (+)= Σ_c W[r, c] x[t, c]` for every row `r` and activation row `t`,
    /// with ggml's arithmetic, rows split across the cores.
    public func multiply(_ x: QuantizedActivations, into out: UnsafeMutablePointer<Float>, stride rowStride: Int, accumulate: Bool = false) {
        precondition(x.columns == columns)
        let format = self.format
        quants.withUnsafeBytes { q in scales.withUnsafeBufferPointer { ws in offsets.withUnsafeBufferPointer { wm in
            x.values.withUnsafeBufferPointer { xv in x.scales.withUnsafeBufferPointer { xd in x.sums.withUnsafeBufferPointer { xs in
                x.scalesByBlock.withUnsafeBufferPointer { xdb in x.sumsByBlock.withUnsafeBufferPointer { xsb in
                let operands = Operands(
                    quants: q.baseAddress!, scales: ws.baseAddress!, offsets: format == .q4_1 ? wm.baseAddress! : nil,
                    x: xv.baseAddress!, xScales: xd.baseAddress!, xSums: xs.baseAddress!,
                    xScalesByBlock: xdb.baseAddress!, xSumsByBlock: xsb.baseAddress!, out: out,
                    blocks: blocks, rowBytes: Self.rowBytes(format, blocks: blocks), tokens: x.rows, stride: rowStride, accumulate: accumulate)
                // Chunks of rows, four-aligned, one per core.
                let count = min(ForkJoin.shared.workers + 1, max(1, rows / 4))
                ForkJoin.shared.run { chunk in
                    guard chunk < count else { return }
                    let first = (chunk * rows / count) & ~3, end = chunk + 1 == count ? rows : ((chunk + 1) * rows / count) & ~3
                    switch format {
                    case .q4_0: kernel(Q4_0Layout.self, operands, rows: first, end)
                    case .q4_1: kernel(Q4_1Layout.self, operands, rows: first, end)
                    case .q8_0: kernel(Q8_0Layout.self, operands, rows: first, end)
                    }
                }
            } } } } }
        } } }
    }
}

/// Rounds `count` values to the nearest Float16 and back (F16C's round-to-nearest-even, as
/// ggml's conversions do).
public func roundThroughHalf(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    let raw = UnsafeMutableRawPointer(x)
    while i + 8 <= count {
        raw.storeBytes(of: SIMD8<Float>(SIMD8<Float16>(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))), toByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        x[i] = Float(Float16(x[i]))
        i += 1
    }
}
