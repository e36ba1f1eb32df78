import Foundation
import RecCore
#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

// Matrix-vector and matrix-matrix products on ggml's block-quantised weights, with ggml's own
// arithmetic: activations are quantised per block of 32 to 8 bits (Q8_1 against Q4_1 weights,
// Q8_0 against Q4_0 and Q8_0), each block's integer dot product is split into eight partial
// sums of four consecutive values (`maddubs` then `madd`, as ggml's AVX2 code does), and those
// are scaled and accumulated lane by lane with fused multiply-adds, then summed in ggml's
// order. Integer sums are exact whichever instructions compute them, and every rounding step
// is ggml's AVX2 path's. The order is fixed here, whatever the CPU or the thread count, so the
// results are the same on every machine (llama.cpp's vary with the kernels it picks).
//
// This module is compiled for Haswell (AVX2, FMA, F16C, BMI2; see Package.swift) and is kept
// small on purpose: nothing here is @inlinable, so no caller compiled for the baseline inlines
// these loops, and `BlockQuantizedMatrix.supported` tells callers whether this CPU can run them.
// Elsewhere than x86-64 the same kernels run on portable Swift (`Quants`, `lanes`).

/// Weights `[rows, columns]` in one of ggml's block formats, kept in ggml's own bytes: every
/// block's Float16 scale `d` (and, for Q4_1, offset `m`) beside its quants, so one token's
/// product streams the weights once, as llama.cpp does (generation is bound by memory).
public struct BlockQuantizedMatrix: Sendable {
    public enum Format: String, Sendable {
        case q4_0 = "Q4_0", q4_1 = "Q4_1", q8_0 = "Q8_0"

        /// Bytes of one block of 32 values.
        public var blockBytes: Int {
            switch self {
            case .q4_0: 18;
            case .q4_1: 20;
            case .q8_0: 34
            }
        }
        /// Bytes before a block's quants (`d`, and `m` for Q4_1). Q4 quants are 16 bytes, byte j
        /// holding value j in its low nibble and value j + 16 in its high one; Q8_0's are 32
        /// signed bytes.
        var header: Int { self == .q4_1 ? 4 : 2 }
    }
    public let format: Format
    public let rows: Int, columns: Int
    /// Blocks per row.
    public var blocks: Int { columns / 32 }
    /// The blocks, row by row, as ggml stores them.
    let data: [UInt8]

    /// Reads `rows` rows of `columns` values stored in ggml's layout at `source`.
    public init(format: Format, rows: Int, columns: Int, source: UnsafeRawPointer) {
        precondition(columns % 32 == 0)
        self.format = format
        self.rows = rows
        self.columns = columns
        data = Array(UnsafeRawBufferPointer(start: source, count: rows * columns / 32 * format.blockBytes))
    }

    /// Matrices of one format and width stacked row-wise (query, key and value, say).
    public init(stacking parts: [BlockQuantizedMatrix]) {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.format == parts[0].format && $0.columns == parts[0].columns })
        format = parts[0].format
        columns = parts[0].columns
        rows = parts.map(\.rows).reduce(0, +)
        data = parts.flatMap(\.data)
    }

    /// Row `row` widened to Float32 (`d q + m`, or `d (q - 8)`), as ggml's `get_rows` does.
    public func row(_ row: Int) -> [Float] {
        var values = [Float](repeating: 0, count: columns)
        data.withUnsafeBytes { raw in
            for b in 0..<blocks {
                let block = raw.baseAddress! + (row * blocks + b) * format.blockBytes, q = block + format.header
                let d = half(block), m = format == .q4_1 ? half(block + 2) : 0
                for j in 0..<32 {
                    values[b * 32 + j] =
                        switch format {
                        case .q8_0: Float(q.load(fromByteOffset: j, as: Int8.self)) * d
                        case .q4_0: Float(Int(j < 16 ? q.load(fromByteOffset: j, as: UInt8.self) & 15 : q.load(fromByteOffset: j - 16, as: UInt8.self) >> 4) - 8) * d
                        case .q4_1: Float(j < 16 ? q.load(fromByteOffset: j, as: UInt8.self) & 15 : q.load(fromByteOffset: j - 16, as: UInt8.self) >> 4) * d + m
                        }
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
/// `s = d Σq` stored as Float16).
public struct QuantizedActivations {
    public let rows: Int, columns: Int
    /// The 8-bit values in their natural order.
    var values: [Int8]
    /// Per block, lane k: 8 (q[4k] + q[4k+1] + q[4k+2] + q[4k+3]), what Q4_0's `- 8` takes
    /// from a block's partial sums when its nibbles are multiplied unbiased.
    var biases: [SIMD8<Int32>]
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
        var biases = [SIMD8<Int32>](repeating: .zero, count: count)
        values = [Int8](unsafeUninitializedCapacity: count * 32) { out, initialized in
            initialized = count * 32
            for block in 0..<count {
                let (d, sum) = quantizeBlock(x + block * 32, into: out.baseAddress! + block * 32, biases: &biases[block])
                scales[block] = Float(Float16(d))
                sums[block] = Float(Float16(d * Float(sum)))
            }
        }
        self.scales = scales
        self.sums = sums
        self.biases = biases
        // Block-major copies, so the batched kernel loads eight tokens' values at once.
        let blocks = columns / 32
        scalesByBlock = (0..<count).map { scales[($0 % rows) * blocks + $0 / rows] }
        sumsByBlock = (0..<count).map { sums[($0 % rows) * blocks + $0 / rows] }
    }
}

/// ggml's `quantize_row_q8_1` for one block of 32: `d = max|x| / 127` and `q = round(x / d)`
/// (as `x · (127 / max|x|)`, rounded to nearest even) into `q`; `biases` lane k gets
/// 8 (q[4k] + … + q[4k+3]). Returns `d` and `Σ q`.
@inline(__always) func quantizeBlock(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>, biases: inout SIMD8<Int32>) -> (Float, Int32) {
    #if arch(x86_64)
        let v = UnsafeRawPointer(x)
        let x0 = v.loadUnaligned(as: __m256.self), x1 = v.loadUnaligned(fromByteOffset: 32, as: __m256.self)
        let x2 = v.loadUnaligned(fromByteOffset: 64, as: __m256.self), x3 = v.loadUnaligned(fromByteOffset: 96, as: __m256.self)
        let sign = _mm256_set1_ps(-0.0)
        let m = _mm256_max_ps(
            _mm256_max_ps(_mm256_andnot_ps(sign, x0), _mm256_andnot_ps(sign, x1)),
            _mm256_max_ps(_mm256_andnot_ps(sign, x2), _mm256_andnot_ps(sign, x3)))
        var maximum = m[0]
        for i in 1..<8 { maximum = max(maximum, m[i]) }
        let d = maximum / 127, inverse = _mm256_set1_ps(maximum != 0 ? 127 / maximum : 0)
        // Rounded to nearest even by the default rounding mode, as ggml's `_mm256_round_ps`.
        let i0 = _mm256_cvtps_epi32(_mm256_mul_ps(x0, inverse)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(x1, inverse))
        let i2 = _mm256_cvtps_epi32(_mm256_mul_ps(x2, inverse)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(x3, inverse))
        // Packing interleaves 128-bit halves; the permutation restores the order (as ggml does).
        let packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3))
        let bytes = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
        UnsafeMutableRawPointer(q).storeBytes(of: bytes, as: __m256i.self)
        let lanes = unsafeBitCast(pairSums(_mm256_set1_epi8(8), bytes), to: SIMD8<Int32>.self)
        biases = lanes
        return (d, lanes.wrappedSum() / 8)
    #else
        var maximum: Float = 0
        for j in 0..<32 { maximum = max(maximum, abs(x[j])) }
        let d = maximum / 127, inverse = maximum != 0 ? 127 / maximum : 0
        var sum: Int32 = 0
        biases = .zero
        for j in 0..<32 {
            let value = Int8((x[j] * inverse).rounded(.toNearestOrEven))
            q[j] = value
            biases[j / 4] &+= 8 * Int32(value)
            sum += Int32(value)
        }
        return (d, sum)
    #endif
}

/// The little-endian Float16 at `at`, widened (exactly).
@inline(__always) func half(_ at: UnsafeRawPointer) -> Float { Float(Float16(bitPattern: UInt16(littleEndian: at.loadUnaligned(as: UInt16.self)))) }

/// ggml's `hsum_float_8`: ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)).
@inline(__always) func horizontalSum(_ a: SIMD8<Float>) -> Float {
    let four = a.lowHalf + a.highHalf, two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

#if arch(x86_64)
    /// One block's 32 quants in a register: unsigned nibbles (Q4) or signed bytes (Q8_0).
    typealias Quants = __m256i

    /// `maddubs` then `madd` by ones: lane k = Σ_r u[4k+r] s[4k+r] for unsigned bytes `u` and
    /// signed bytes `s`. `maddubs` saturates pairs at Int16, which these operands never reach:
    /// at most 2 · 15 · 127 for nibbles, 2 · 128 · 127 for |Q8_0| against |q| ≤ 127.
    @inline(__always) func pairSums(_ u: __m256i, _ s: __m256i) -> __m256i {
        _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
    }

    /// A block's 32 activation bytes.
    @inline(__always) func loadActivations(_ x: UnsafePointer<Int8>) -> Quants { UnsafeRawPointer(x).loadUnaligned(as: __m256i.self) }
#else
    typealias Quants = SIMD32<Int8>

    @inline(__always) func loadActivations(_ x: UnsafePointer<Int8>) -> Quants { UnsafeRawPointer(x).loadUnaligned(as: SIMD32<Int8>.self) }

    /// Lane k = Σ_r a[4k+r] b[4k+r], in integers.
    @inline(__always) func portableSums(_ a: Quants, _ b: Quants) -> SIMD8<Int32> {
        var lanes = SIMD8<Int32>()
        for j in 0..<32 { lanes[j / 4] &+= Int32(a[j]) * Int32(b[j]) }
        return lanes
    }
#endif

/// A block format's kernel-side decoding, as a type so each kernel is specialised for it.
protocol BlockLayout {
    /// Whether blocks carry an offset `m` (Q4_1), multiplied by the activation block's `s`.
    static var hasOffsets: Bool { get }
    /// The block whose quants start at `at`, in a register.
    static func unpack(_ at: UnsafeRawPointer) -> Quants
    /// The eight partial sums Σ_r w[4k+r] x[4k+r] of a block against activations `x` (with
    /// their Q4_0 `biases`), as exact Float32 integers.
    static func lanes(_ w: Quants, _ x: Quants, _ bias: SIMD8<Int32>) -> SIMD8<Float>
}

/// Q4_0 and Q4_1: nibbles widened to bytes (ggml's `bytes_from_nibbles_32`).
protocol NibbleLayout: BlockLayout {}

extension NibbleLayout {
    @inline(__always) static func unpack(_ at: UnsafeRawPointer) -> Quants {
        #if arch(x86_64)
            let bytes = at.loadUnaligned(as: __m128i.self)
            return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes), _mm256_set1_epi8(0x0F))
        #else
            var q = Quants()
            for j in 0..<16 {
                let byte = at.load(fromByteOffset: j, as: UInt8.self)
                q[j] = Int8(byte & 15)
                q[j + 16] = Int8(byte >> 4)
            }
            return q
        #endif
    }
}

enum Q4_0Layout: NibbleLayout {
    static var hasOffsets: Bool { false }
    /// Σ (n - 8) x = Σ n x - 8 Σ x, lane by lane.
    @inline(__always) static func lanes(_ w: Quants, _ x: Quants, _ bias: SIMD8<Int32>) -> SIMD8<Float> {
        #if arch(x86_64)
            return _mm256_cvtepi32_ps(_mm256_sub_epi32(pairSums(w, x), unsafeBitCast(bias, to: __m256i.self)))
        #else
            return SIMD8<Float>(portableSums(w, x) &- bias)
        #endif
    }
}

enum Q4_1Layout: NibbleLayout {
    static var hasOffsets: Bool { true }
    @inline(__always) static func lanes(_ w: Quants, _ x: Quants, _ bias: SIMD8<Int32>) -> SIMD8<Float> {
        #if arch(x86_64)
            return _mm256_cvtepi32_ps(pairSums(w, x))
        #else
            return SIMD8<Float>(portableSums(w, x))
        #endif
    }
}

/// Q8_0: signed bytes against signed bytes; ggml's sign trick (|w| against x with w's sign)
/// makes the first operand unsigned.
enum Q8_0Layout: BlockLayout {
    static var hasOffsets: Bool { false }
    @inline(__always) static func unpack(_ at: UnsafeRawPointer) -> Quants {
        #if arch(x86_64)
            return at.loadUnaligned(as: __m256i.self)
        #else
            return at.loadUnaligned(as: SIMD32<Int8>.self)
        #endif
    }

    @inline(__always) static func lanes(_ w: Quants, _ x: Quants, _ bias: SIMD8<Int32>) -> SIMD8<Float> {
        #if arch(x86_64)
            return _mm256_cvtepi32_ps(pairSums(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)))
        #else
            return SIMD8<Float>(portableSums(w, x))
        #endif
    }
}

/// Raw views of one product's operands, shared by the worker threads.
struct Operands: @unchecked Sendable {
    var data: UnsafeRawPointer
    var x: UnsafePointer<Int8>, biases: UnsafePointer<SIMD8<Int32>>, xScales: UnsafePointer<Float>, xSums: UnsafePointer<Float>
    var xScalesByBlock: UnsafePointer<Float>, xSumsByBlock: UnsafePointer<Float>
    var out: UnsafeMutablePointer<Float>
    var blocks: Int, blockBytes: Int, header: Int, tokens: Int, stride: Int, accumulate: Bool
}

/// Rows `first..<end` of one product, specialised for a block layout. ggml per output:
/// `acc = fma(d_w d_x, xy, acc)` over blocks (eight lanes), `summs = fma(m, s, summs)` for
/// Q4_1 (GCC contracts ggml's `summs += m s` at -O3), then `hsum(acc) + summs`.
@inline(never)
func kernel<L: BlockLayout>(_: L.Type, _ o: Operands, rows first: Int, _ end: Int) {
    let blocks = o.blocks, size = o.blockBytes, rowBytes = size * blocks, header = o.header
    @inline(__always) func store(_ r: Int, _ t: Int, _ lanes: SIMD8<Float>, _ summs: Float) {
        let value = horizontalSum(lanes) + summs, at = o.out + t * o.stride + r
        at.pointee = o.accumulate ? at.pointee + value : value
    }
    if o.tokens == 1 {
        // One token: row after row, so the weights stream through memory in order (four rows
        // interleaved would share activation loads, but generation is bound by memory, and the
        // prefetchers follow one stream best: 2-3x faster once the weights exceed the caches).
        for r in first..<end {
            var a = SIMD8<Float>(), s: Float = 0
            for b in 0..<blocks {
                let block = o.data + r * rowBytes + b * size
                a = a.addingProduct(SIMD8(repeating: half(block) * o.xScales[b]), L.lanes(L.unpack(block + header), loadActivations(o.x + b * 32), o.biases[b]))
                if L.hasOffsets { s = s.addingProduct(half(block + 2), o.xSums[b]) }
            }
            store(r, 0, a, s)
        }
        return
    }
    // Several tokens: unpack each row once per tile of tokens (a tile's activations stay in
    // cache), then run the tile over it, eight tokens at a time.
    let unpacked = UnsafeMutablePointer<Quants>.allocate(capacity: blocks)
    let d = UnsafeMutablePointer<Float>.allocate(capacity: 2 * blocks), m = d + blocks
    defer {
        unpacked.deallocate()
        d.deallocate()
    }
    for tile in Swift.stride(from: 0, to: o.tokens, by: 32) {
        let tileEnd = min(o.tokens, tile + 32)
        for r in first..<end {
            for b in 0..<blocks {
                let block = o.data + r * rowBytes + b * size
                unpacked[b] = L.unpack(block + header)
                d[b] = half(block)
                if L.hasOffsets { m[b] = half(block + 2) }
            }
            var t = tile
            while t + 8 <= tileEnd {
                var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, summs = a0
                let x0 = o.x + t * blocks * 32, step = blocks * 32, bias0 = o.biases + t * blocks
                for b in 0..<blocks {
                    // Eight tokens' d_w d_x and m s at once: the same products, lane by lane.
                    let w = unpacked[b], at = b * o.tokens + t, xb = x0 + b * 32, bias = bias0 + b
                    let scale = SIMD8(repeating: d[b]) * UnsafeRawPointer(o.xScalesByBlock + at).loadUnaligned(as: SIMD8<Float>.self)
                    a0 = a0.addingProduct(SIMD8(repeating: scale[0]), L.lanes(w, loadActivations(xb), bias[0]))
                    a1 = a1.addingProduct(SIMD8(repeating: scale[1]), L.lanes(w, loadActivations(xb + step), bias[blocks]))
                    a2 = a2.addingProduct(SIMD8(repeating: scale[2]), L.lanes(w, loadActivations(xb + 2 * step), bias[2 * blocks]))
                    a3 = a3.addingProduct(SIMD8(repeating: scale[3]), L.lanes(w, loadActivations(xb + 3 * step), bias[3 * blocks]))
                    a4 = a4.addingProduct(SIMD8(repeating: scale[4]), L.lanes(w, loadActivations(xb + 4 * step), bias[4 * blocks]))
                    a5 = a5.addingProduct(SIMD8(repeating: scale[5]), L.lanes(w, loadActivations(xb + 5 * step), bias[5 * blocks]))
                    a6 = a6.addingProduct(SIMD8(repeating: scale[6]), L.lanes(w, loadActivations(xb + 6 * step), bias[6 * blocks]))
                    a7 = a7.addingProduct(SIMD8(repeating: scale[7]), L.lanes(w, loadActivations(xb + 7 * step), bias[7 * blocks]))
                    if L.hasOffsets {
                        summs = summs.addingProduct(SIMD8(repeating: m[b]), UnsafeRawPointer(o.xSumsByBlock + at).loadUnaligned(as: SIMD8<Float>.self))
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
                    a = a.addingProduct(
                        SIMD8(repeating: d[b] * o.xScales[t * blocks + b]),
                        L.lanes(unpacked[b], loadActivations(o.x + (t * blocks + b) * 32), o.biases[t * blocks + b]))
                    if L.hasOffsets { s = s.addingProduct(m[b], o.xSums[t * blocks + b]) }
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
        data.withUnsafeBytes { weights in
            x.values.withUnsafeBufferPointer { xv in
                x.biases.withUnsafeBufferPointer { xb in
                    x.scales.withUnsafeBufferPointer { xd in
                        x.sums.withUnsafeBufferPointer { xs in
                            x.scalesByBlock.withUnsafeBufferPointer { xdb in
                                x.sumsByBlock.withUnsafeBufferPointer { xsb in
                                    let operands = Operands(
                                        data: weights.baseAddress!,
                                        x: xv.baseAddress!, biases: xb.baseAddress!, xScales: xd.baseAddress!, xSums: xs.baseAddress!,
                                        xScalesByBlock: xdb.baseAddress!, xSumsByBlock: xsb.baseAddress!, out: out,
                                        blocks: blocks, blockBytes: format.blockBytes, header: format.header, tokens: x.rows, stride: rowStride, accumulate: accumulate)
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
                                }
                            }
                        }
                    }
                }
            }
        }
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
