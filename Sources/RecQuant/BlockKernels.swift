import Foundation
import RecCore
import RecQuantWide
#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

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
    /// What the wide kernel subtracts from the unpacked quants to get the weights: 8 for Q4_0's
    /// nibbles (ggml's `q - 8`, which the other kernels take as a bias on the activations).
    static var centre: Int8 { get }
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
    static var centre: Int8 { 8 }
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
    static var centre: Int8 { 0 }
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
    static var centre: Int8 { 0 }
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

/// Q5_0: the nibbles with their fifth bits from `qh`, as signed bytes in [-16, 15] (ggml's
/// `bytes_from_bits_32`, then 0xF0 set where the bit is clear), then Q8_0's signed product.
enum Q5_0Layout: BlockLayout {
    static var hasOffsets: Bool { false }
    static var centre: Int8 { 0 }
    /// `at`: the block's `qh` (4 bytes), its 16 quant bytes after them.
    @inline(__always) static func unpack(_ at: UnsafeRawPointer) -> Quants { fiveBits(at, signed: true) }

    @inline(__always) static func lanes(_ w: Quants, _ x: Quants, _ bias: SIMD8<Int32>) -> SIMD8<Float> { Q8_0Layout.lanes(w, x, bias) }
}

/// Q5_1: the nibbles with their fifth bits (0x10 where the bit is set), unsigned bytes in
/// [0, 31], multiplied as Q4_1's (`ggml_vec_dot_q5_1_q8_1`: the offset `m` against the
/// activation block's `s`).
enum Q5_1Layout: BlockLayout {
    static var hasOffsets: Bool { true }
    static var centre: Int8 { 0 }
    @inline(__always) static func unpack(_ at: UnsafeRawPointer) -> Quants { fiveBits(at, signed: false) }
    @inline(__always) static func lanes(_ w: Quants, _ x: Quants, _ bias: SIMD8<Int32>) -> SIMD8<Float> { Q4_1Layout.lanes(w, x, bias) }
}

/// A 5-bit block's 32 quants (`at`: its 4 bytes of fifth bits, then 16 bytes of nibbles):
/// `signed`, the bit clear gives q − 16 (Q5_0); otherwise the bit set gives q + 16 (Q5_1).
@inline(__always) func fiveBits(_ at: UnsafeRawPointer, signed: Bool) -> Quants {
    let bits = UInt32(littleEndian: at.loadUnaligned(as: UInt32.self))
    #if arch(x86_64)
        let bytes = (at + 4).loadUnaligned(as: __m128i.self)
        let nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes), _mm256_set1_epi8(0x0F))
        // Byte j gets byte j / 8 of the bits, all its other bits set, so it is all ones
        // exactly when bit j is.
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(Int32(bitPattern: bits)),
            _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0))
        let set = _mm256_cmpeq_epi8(_mm256_or_si256(spread, _mm256_set1_epi64x(0x7FBF_DFEF_F7FB_FDFE)), _mm256_set1_epi64x(-1))
        return signed
            ? _mm256_or_si256(nibbles, _mm256_andnot_si256(set, _mm256_set1_epi8(-16)))
            : _mm256_or_si256(nibbles, _mm256_and_si256(set, _mm256_set1_epi8(16)))
    #else
        var q = Quants()
        for j in 0..<16 {
            let byte = (at + 4).load(fromByteOffset: j, as: UInt8.self)
            let (low, high) = (bits >> UInt32(j) & 1 == 1, bits >> UInt32(j + 16) & 1 == 1)
            q[j] = Int8(byte & 15) + (signed ? (low ? 0 : -16) : (low ? 16 : 0))
            q[j + 16] = Int8(byte >> 4) + (signed ? (high ? 0 : -16) : (high ? 16 : 0))
        }
        return q
    #endif
}

/// Raw views of one product's operands, shared by the worker threads.
struct Operands: @unchecked Sendable {
    var data: UnsafeRawPointer
    var x: UnsafePointer<Int8>, biases: UnsafePointer<SIMD8<Int32>>, xScales: UnsafePointer<Float>, xSums: UnsafePointer<Float>
    var xScalesByBlock: UnsafePointer<Float>, xSumsByBlock: UnsafePointer<Float>
    /// `QuantizedActivations.pairs`, or nil where it is empty (an empty array may still have
    /// a base address).
    var pairs: UnsafePointer<UInt8>?
    var out: UnsafeMutablePointer<Float>
    var blocks: Int, blockBytes: Int, header: Int, tokens: Int, stride: Int, accumulate: Bool

    /// Output (token `t`, row `r`): the lanes' ggml horizontal sum plus `summs`, written or
    /// added to what is there.
    @inline(__always) func store(_ r: Int, _ t: Int, _ lanes: SIMD8<Float>, _ summs: Float) {
        let value = horizontalSum(lanes) + summs, at = out + t * stride + r
        at.pointee = accumulate ? at.pointee + value : value
    }
}

/// Rows `first..<end` of one product, specialised for a block layout. ggml per output:
/// `acc = fma(d_w d_x, xy, acc)` over blocks (eight lanes), `summs = fma(m, s, summs)` for
/// Q4_1 (GCC contracts ggml's `summs += m s` at -O3), then `hsum(acc) + summs`.
@inline(never)
func kernel<L: BlockLayout>(_: L.Type, _ o: Operands, rows first: Int, _ end: Int) {
    let blocks = o.blocks, size = o.blockBytes, rowBytes = size * blocks, header = o.header
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
            o.store(r, 0, a, s)
        }
        return
    }
    #if arch(x86_64)
        if BlockQuantizedMatrix.wide, o.pairs != nil {
            wideKernel(L.self, o, rows: first, end)
            return
        }
    #endif
    // Several tokens: unpack each row once per tile of tokens (a tile's activations stay in
    // cache), then run the tile over it, eight tokens at a time.
    let unpacked = UnsafeMutablePointer<Quants>.allocate(capacity: blocks)
    let d = UnsafeMutablePointer<Float>.allocate(capacity: 2 * blocks), m = d + blocks
    let sums = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 9)
    defer {
        unpacked.deallocate()
        d.deallocate()
        sums.deallocate()
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
                o.store(r, t, a0, summs[0])
                o.store(r, t + 1, a1, summs[1])
                o.store(r, t + 2, a2, summs[2])
                o.store(r, t + 3, a3, summs[3])
                o.store(r, t + 4, a4, summs[4])
                o.store(r, t + 5, a5, summs[5])
                o.store(r, t + 6, a6, summs[6])
                o.store(r, t + 7, a7, summs[7])
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
                o.store(r, t, a, s)
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
                                    x.pairs.withUnsafeBufferPointer { xp in
                                        let operands = Operands(
                                            data: weights.baseAddress!,
                                            x: xv.baseAddress!, biases: xb.baseAddress!, xScales: xd.baseAddress!, xSums: xs.baseAddress!,
                                            xScalesByBlock: xdb.baseAddress!, xSumsByBlock: xsb.baseAddress!, pairs: xp.isEmpty ? nil : xp.baseAddress, out: out,
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
                                            case .q5_0: kernel(Q5_0Layout.self, operands, rows: first, end)
                                            case .q5_1: kernel(Q5_1Layout.self, operands, rows: first, end)
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
