import Foundation
import RecCore
#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

/// Rows of Float32 activations quantised per block of 256 exactly as ggml's
/// `quantize_row_q8_K_ref` does (what ggml multiplies k-quant weights with): the scale is
/// −127 / (the value of largest magnitude), quants are rounded to nearest (even) and kept at
/// most 127, `d = 1 / scale`, and `bsums` holds each 16 quants' sum.
public struct SuperBlockActivations {
    public let rows: Int, columns: Int
    var quants: [Int8]
    var d: [Float]
    var bsums: [Int32]
    /// `bsums` as 16-bit integers (at most 16 · 127 in magnitude), and per run of 32 the sum of
    /// its two (eight per block), for the products of several tokens (`DecodedRow`); empty for
    /// one token.
    var sums16: [Int16], runs16: [Int16]

    public init(_ x: UnsafePointer<Float>, rows: Int, columns: Int) {
        precondition(columns % 256 == 0)
        self.rows = rows
        self.columns = columns
        let blocks = rows * columns / 256
        var quants = [Int8](repeating: 0, count: blocks * 256), d = [Float](repeating: 0, count: blocks)
        var bsums = [Int32](repeating: 0, count: blocks * 16)
        quants.withUnsafeMutableBufferPointer { quants in
            for block in 0..<blocks {
                let v = UnsafeRawPointer(x + block * 256)
                // The largest magnitude (a NaN passes over, as ggml's comparisons do).
                var magnitude: Float = 0
                #if arch(x86_64)
                    var widest = _mm256_setzero_ps()
                    let sign = _mm256_set1_ps(-0.0)
                    for i in 0..<32 {
                        widest = _mm256_max_ps(_mm256_andnot_ps(sign, v.loadUnaligned(fromByteOffset: 32 * i, as: __m256.self)), widest)
                    }
                    magnitude = unsafeBitCast(widest, to: SIMD8<Float>.self).max()
                #else
                    for j in 0..<256 where abs(x[block * 256 + j]) > magnitude { magnitude = abs(x[block * 256 + j]) }
                #endif
                guard magnitude != 0 else { continue }
                // The first value of that magnitude, as ggml's scan keeps it.
                var first = 0
                while abs(x[block * 256 + first]) != magnitude { first += 1 }
                let scale = -127 / x[block * 256 + first]
                let out = quants.baseAddress! + block * 256
                #if arch(x86_64)
                    let factor = _mm256_set1_ps(scale), magic = _mm256_set1_ps(12_582_912), top = _mm256_set1_epi32(127)
                    for group in 0..<16 {
                        // `nearest_int`: the float plus 1.5 · 2^23 rounds to nearest even.
                        @inline(__always) func eight(_ i: Int) -> __m256i {
                            let value = v.loadUnaligned(fromByteOffset: 64 * group + 32 * i, as: __m256.self)
                            return _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(factor, value), magic), magic)), top)
                        }
                        let (low, high) = (eight(0), eight(1))
                        let lanes = unsafeBitCast(_mm256_add_epi32(low, high), to: SIMD8<Int32>.self)
                        bsums[block * 16 + group] = lanes.wrappedSum()
                        // Packing interleaves 128-bit halves; the permutation restores the order.
                        let packed = _mm256_packs_epi16(_mm256_packs_epi32(low, high), _mm256_setzero_si256())
                        let bytes = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)))
                        UnsafeMutableRawPointer(out + 16 * group).storeBytes(of: bytes, as: __m128i.self)
                    }
                #else
                    for j in 0..<256 {
                        let q = Int8(min(127, Int((scale * x[block * 256 + j] + 12_582_912) - 12_582_912)))
                        out[j] = q
                        bsums[block * 16 + j / 16] += Int32(q)
                    }
                #endif
                d[block] = 1 / scale
            }
        }
        self.quants = quants
        self.d = d
        self.bsums = bsums
        // Only the products of several tokens read them.
        sums16 = rows > 1 ? bsums.map { Int16($0) } : []
        runs16 = rows > 1 ? (0..<(blocks * 8)).map { Int16(bsums[2 * $0] + bsums[2 * $0 + 1]) } : []
    }

    /// The activations as ggml's product sees them: `d · q`.
    public func widened(into out: UnsafeMutablePointer<Float>) {
        for i in 0..<(rows * columns) { out[i] = d[i / 256] * Float(quants[i]) }
    }
}

/// Q6_K's product with ggml's AVX2 arithmetic
/// (`ggml_vec_dot_q6_K_q8_K`, which llama.cpp runs for one token and for batches alike on
/// x86): per block of 256, eight int32 lanes, lane L summing `scale · q · x` over the values
/// 4L..4L+3 of each run of 32 and less 32 · Σ scale · bsum over the 16-value groups 2L and
/// 2L + 1; then `acc = fma(d_x d_w, Float(lane), acc)` and ggml's horizontal sum. Integer sums
/// are exact, so only that order of the float steps is ggml's to follow.
enum Q6K {
    /// One row against one token's activations.
    @inline(__always)
    static func dot(_ w: UnsafeRawPointer, _ q8: UnsafePointer<Int8>, _ d8: UnsafePointer<Float>, _ bsums: UnsafePointer<Int32>, _ blocks: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<blocks {
            let block = w + b * 210, y = q8 + b * 256, sums = bsums + b * 16
            let ql = block.assumingMemoryBound(to: UInt8.self), qh = ql + 128
            let scales = (block + 192).assumingMemoryBound(to: Int8.self)
            let d = d8[b] * Float(Float16(bitPattern: UInt16(littleEndian: block.loadUnaligned(fromByteOffset: 208, as: UInt16.self))))
            var lanes = SIMD8<Int32>()
            #if arch(x86_64)
                // ggml's registers: the four runs' 6-bit quants, `maddubs` against x, `madd`
                // by each half's scale.
                var sum = _mm256_setzero_si256()
                for group in 0..<2 {
                    let (q0, q1, q2, q3) = q6KRuns(ql, qh, group: group)
                    @inline(__always) func product(_ quants: __m256i, _ run: Int) -> __m256i {
                        let x = UnsafeRawPointer(y + 128 * group + 32 * run).loadUnaligned(as: __m256i.self)
                        let scale = _mm256_set_m128i(
                            _mm_set1_epi16(Int16(scales[8 * group + 2 * run + 1])), _mm_set1_epi16(Int16(scales[8 * group + 2 * run])))
                        return _mm256_madd_epi16(scale, _mm256_maddubs_epi16(quants, x))
                    }
                    sum = _mm256_add_epi32(sum, _mm256_add_epi32(product(q0, 0), product(q1, 1)))
                    sum = _mm256_add_epi32(sum, _mm256_add_epi32(product(q2, 2), product(q3, 3)))
                }
                lanes = unsafeBitCast(sum, to: SIMD8<Int32>.self)
            #else
                for group in 0..<2 {
                    let low = ql + 64 * group, high = qh + 32 * group, x = y + 128 * group
                    for run in 0..<4 {
                        // Run k of 32: low or high nibbles of ql[0..<32] or ql[32..<64], two
                        // bits of qh each; scales 2(4j + k) and 2(4j + k) + 1 for its halves.
                        let nibbles = low + 32 * (run & 1), shift = UInt8(2 * run)
                        let s0 = Int32(scales[8 * group + 2 * run]), s1 = Int32(scales[8 * group + 2 * run + 1])
                        for v in 0..<32 {
                            let n = run < 2 ? nibbles[v] & 15 : nibbles[v] >> 4
                            let weight = Int32(n | (high[v] >> shift & 3) << 4)
                            lanes[v / 4] += (v < 16 ? s0 : s1) * weight * Int32(x[32 * run + v])
                        }
                    }
                }
            #endif
            // Less 32 Σ scale · bsum over the groups 2L and 2L + 1.
            #if arch(x86_64)
                let scales16 = UnsafeRawPointer(scales).loadUnaligned(as: __m128i.self)
                let low = _mm256_mullo_epi32(_mm256_cvtepi8_epi32(scales16), UnsafeRawPointer(sums).loadUnaligned(as: __m256i.self))
                let high = _mm256_mullo_epi32(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(scales16, scales16)), UnsafeRawPointer(sums + 8).loadUnaligned(as: __m256i.self))
                // `hadd` takes pairs from both inputs per 128-bit half; the permutation orders them.
                let pairs = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(low, high), _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7))
                lanes &-= unsafeBitCast(pairs, to: SIMD8<Int32>.self) &<< 5
            #else
                for lane in 0..<8 {
                    lanes[lane] -= 32 * (sums[2 * lane] * Int32(scales[2 * lane]) + sums[2 * lane + 1] * Int32(scales[2 * lane + 1]))
                }
            #endif
            acc = acc.addingProduct(SIMD8(repeating: d), SIMD8<Float>(lanes))
        }
        return horizontalSum(acc)
    }
}

/// Q4_K's product with ggml's AVX2 arithmetic
/// (`ggml_vec_dot_q4_K_q8_K`; llama.cpp takes it when weights are not repacked, see
/// Benchmarks/llama_reference.py). Per block of 256: eight int32 lanes, lane L summing
/// `scale_j · q · x` over the values 4L..4L+3 of each run of 32; `acc = fma(d_x d_w,
/// Float(lane), acc)`. The mins go to four lanes of their own: lane k gets
/// `m_{2k} (Σx over run 2k) + m_{2k+1} (Σx over run 2k+1)`, and `acc_m = fma(−d_x dmin_w,
/// Float(lane), acc_m)`. The result is ggml's horizontal sum of `acc` plus `acc_m`'s.
enum Q4K {
    /// One row against one token's activations.
    @inline(__always)
    static func dot(_ w: UnsafeRawPointer, _ q8: UnsafePointer<Int8>, _ d8: UnsafePointer<Float>, _ bsums: UnsafePointer<Int32>, _ blocks: Int) -> Float {
        var acc = SIMD8<Float>(), accMins = SIMD4<Float>()
        for b in 0..<blocks {
            let block = w + b * 144, y = q8 + b * 256, sums = bsums + b * 16
            let half = { (offset: Int) in Float(Float16(bitPattern: UInt16(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))) }
            let d = d8[b] * half(0), dmin = -d8[b] * half(2)
            let packed = (block + 4).assumingMemoryBound(to: UInt8.self), qs = (block + 16).assumingMemoryBound(to: UInt8.self)
            var scales = SIMD8<Int32>(), mins = SIMD8<Int32>()
            for j in 0..<8 {
                let (scale, min) = kQuantScaleMin(j, packed)
                (scales[j], mins[j]) = (Int32(scale), Int32(min))
            }
            var minLanes = SIMD4<Int32>()
            for k in 0..<4 {
                let run = { (i: Int) in sums[2 * i] + sums[2 * i + 1] }
                minLanes[k] = mins[2 * k] * run(2 * k) + mins[2 * k + 1] * run(2 * k + 1)
            }
            accMins = accMins.addingProduct(SIMD4(repeating: dmin), SIMD4<Float>(minLanes))
            acc = acc.addingProduct(SIMD8(repeating: d), SIMD8<Float>(kQuantLanes(qs, fifthBits: nil, y, scales)))
        }
        return horizontalSum(acc) + ((accMins[0] + accMins[2]) + (accMins[1] + accMins[3]))
    }
}

/// Q5_K's product with ggml's AVX2 arithmetic (`ggml_vec_dot_q5_K_q8_K`): Q4_K's lanes with
/// each quant's fifth bit from `qh` (bit 2j of byte v for value v of run 2j, bit 2j + 1 for run
/// 2j + 1), `acc = fma(d_x d_w, Float(lane), acc)`; the mins are summed in integers per block
/// (Σ_j m_j · Σx over run j) and added to one Float32 as `summs = fma(−d_x dmin_w, Float(sum),
/// summs)` (GCC contracts ggml's `summs += dmin * sum`). The result is `hsum(acc) + summs`.
enum Q5K {
    /// One row against one token's activations.
    @inline(__always)
    static func dot(_ w: UnsafeRawPointer, _ q8: UnsafePointer<Int8>, _ d8: UnsafePointer<Float>, _ bsums: UnsafePointer<Int32>, _ blocks: Int) -> Float {
        var acc = SIMD8<Float>(), summs: Float = 0
        for b in 0..<blocks {
            let block = w + b * 176, y = q8 + b * 256, sums = bsums + b * 16
            let half = { (offset: Int) in Float(Float16(bitPattern: UInt16(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))) }
            let d = d8[b] * half(0), dmin = -d8[b] * half(2)
            let packed = (block + 4).assumingMemoryBound(to: UInt8.self), qh = (block + 16).assumingMemoryBound(to: UInt8.self)
            let qs = (block + 48).assumingMemoryBound(to: UInt8.self)
            var scales = SIMD8<Int32>(), mins = SIMD8<Int32>()
            for j in 0..<8 {
                let (scale, min) = kQuantScaleMin(j, packed)
                (scales[j], mins[j]) = (Int32(scale), Int32(min))
            }
            // Exact integers (at most 8 · 63 · 8192 in magnitude), so their order is free; one
            // vector product keeps the scales' register out of a scalar loop's way.
            let runs = UnsafeRawPointer(sums).loadUnaligned(as: SIMD16<Int32>.self), minimum = (mins &* (runs.evenHalf &+ runs.oddHalf)).wrappedSum()
            summs = summs.addingProduct(dmin, Float(minimum))
            acc = acc.addingProduct(SIMD8(repeating: d), SIMD8<Float>(kQuantLanes(qs, fifthBits: qh, y, scales)))
        }
        return horizontalSum(acc) + summs
    }
}

/// The integer lanes of a Q4_K or Q5_K block's product with 256 activations `y`: lane L sums
/// `scale_r · q · x` over the values 4L..4L+3 of each run r of 32, the quants being the nibbles
/// of `qs` (runs 2j and 2j + 1 the low and high nibbles of `qs[32j..<32j + 32]`) plus, for
/// Q5_K, their fifth bits from `fifthBits` (`qh`). ggml's registers on x86.
@inline(__always)
func kQuantLanes(_ qs: UnsafePointer<UInt8>, fifthBits qh: UnsafePointer<UInt8>?, _ y: UnsafePointer<Int8>, _ scales: SIMD8<Int32>) -> SIMD8<Int32> {
    #if arch(x86_64)
        var sum = _mm256_setzero_si256()
        let high = qh.map { UnsafeRawPointer($0).loadUnaligned(as: __m256i.self) }
        for j in 0..<4 {
            let (low, top) = kQuantRunPair(qs, fifthBits: high, j)
            let xl = UnsafeRawPointer(y + 64 * j).loadUnaligned(as: __m256i.self), xh = UnsafeRawPointer(y + 64 * j + 32).loadUnaligned(as: __m256i.self)
            let pl = _mm256_madd_epi16(_mm256_set1_epi16(Int16(scales[2 * j])), _mm256_maddubs_epi16(low, xl))
            let ph = _mm256_madd_epi16(_mm256_set1_epi16(Int16(scales[2 * j + 1])), _mm256_maddubs_epi16(top, xh))
            sum = _mm256_add_epi32(sum, _mm256_add_epi32(pl, ph))
        }
        return unsafeBitCast(sum, to: SIMD8<Int32>.self)
    #else
        var lanes = SIMD8<Int32>()
        for j in 0..<4 {
            let q = qs + 32 * j, x = y + 64 * j
            for v in 0..<32 {
                let fifth = { (bit: Int) in qh.map { Int32($0[v] >> UInt8(bit) & 1) << 4 } ?? 0 }
                let low = Int32(q[v] & 15) | fifth(2 * j), top = Int32(q[v] >> 4) | fifth(2 * j + 1)
                lanes[v / 4] += scales[2 * j] * low * Int32(x[v]) + scales[2 * j + 1] * top * Int32(x[32 + v])
            }
        }
        return lanes
    #endif
}

#if arch(x86_64)
    /// Runs 2j and 2j + 1 of a Q4_K or Q5_K block as unsigned bytes: the low and high nibbles
    /// of `qs[32j..<32j + 32]`, each plus 16 where byte v of the fifth bits (Q5_K's `qh`; nil
    /// for Q4_K) has bit 2j (2j + 1) set.
    @inline(__always)
    func kQuantRunPair(_ qs: UnsafePointer<UInt8>, fifthBits high: __m256i?, _ j: Int) -> (low: __m256i, top: __m256i) {
        let m4 = _mm256_set1_epi8(15), bits = UnsafeRawPointer(qs + 32 * j).loadUnaligned(as: __m256i.self)
        let low = _mm256_and_si256(bits, m4), top = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4)
        guard let high else { return (low, top) }
        let fifth0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, Int32(2 * j)), _mm256_set1_epi8(1)), 4)
        let fifth1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, Int32(2 * j + 1)), _mm256_set1_epi8(1)), 4)
        return (_mm256_add_epi8(low, fifth0), _mm256_add_epi8(top, fifth1))
    }

    /// Group `group`'s four runs of 32 six-bit quants of a Q6_K block, as unsigned bytes: the
    /// low or high nibbles of `ql`'s two 32-byte halves, with two bits each from `qh`.
    @inline(__always)
    func q6KRuns(_ ql: UnsafePointer<UInt8>, _ qh: UnsafePointer<UInt8>, group: Int) -> (__m256i, __m256i, __m256i, __m256i) {
        let low1 = UnsafeRawPointer(ql + 64 * group).loadUnaligned(as: __m256i.self)
        let low2 = UnsafeRawPointer(ql + 64 * group + 32).loadUnaligned(as: __m256i.self)
        let high = UnsafeRawPointer(qh + 32 * group).loadUnaligned(as: __m256i.self)
        let m15 = _mm256_set1_epi8(15)
        return (
            _mm256_or_si256(_mm256_and_si256(low1, m15), _mm256_slli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(3)), 4)),
            _mm256_or_si256(_mm256_and_si256(low2, m15), _mm256_slli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(12)), 2)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low1, 4), m15), _mm256_and_si256(high, _mm256_set1_epi8(48))),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low2, 4), m15), _mm256_srli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(-64)), 2))
        )
    }
#endif

/// Sub-block `j`'s 6-bit scale and min from a Q4_K or Q5_K block's 12 `scales` bytes: the
/// first four pairs are the low 6 bits of bytes 0–3 and 4–7; the last four take their low 4
/// bits from bytes 8–11 and their top 2 bits from the spare high bits of bytes 0–7 (ggml's
/// `get_scale_min_k4`).
@inline(__always)
public func kQuantScaleMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
    if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
    return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
}

/// k-quant weights `[rows, columns]` in ggml's bytes (Q4_K, Q5_K or Q6_K super-blocks of 256
/// values), multiplied with ggml's AVX2 arithmetic against `SuperBlockActivations` (see
/// `Q4K.dot`, `Q5K.dot` and `Q6K.dot`).
public struct SuperBlockMatrix: Sendable {
    public enum Format: String, Sendable {
        case q4K = "Q4_K", q5K = "Q5_K", q6K = "Q6_K"

        /// Bytes of one super-block.
        public var blockBytes: Int {
            switch self {
            case .q4K: 144
            case .q5K: 176
            case .q6K: 210
            }
        }
    }
    public let format: Format
    public let rows: Int, columns: Int
    let data: [UInt8]
    var blocks: Int { columns / 256 }

    public init(format: Format, rows: Int, columns: Int, source: UnsafeRawPointer) {
        precondition(columns % 256 == 0)
        self.format = format
        self.rows = rows
        self.columns = columns
        data = Array(UnsafeRawBufferPointer(start: source, count: rows * columns / 256 * format.blockBytes))
    }

    /// Calls `body` with the start of row `row`'s blocks, in ggml's bytes.
    public func withRow<T>(_ row: Int, _ body: (UnsafeRawPointer) -> T) -> T {
        data.withUnsafeBytes { body($0.baseAddress! + row * blocks * format.blockBytes) }
    }

    /// `out[t · stride + r] (+)= Σ_c W[r, c] x[t, c]`, rows split across the cores.
    public func multiply(_ x: SuperBlockActivations, into out: UnsafeMutablePointer<Float>, stride: Int, accumulate: Bool = false) {
        precondition(x.columns == columns)
        let rows = self.rows, blocks = self.blocks, blockBytes = format.blockBytes, format = self.format
        let shared = UncheckedSendable(out)
        data.withUnsafeBytes { weights in
            x.quants.withUnsafeBufferPointer { xq in
                x.d.withUnsafeBufferPointer { xd in
                    x.bsums.withUnsafeBufferPointer { xs in
                        let views = UncheckedSendable((weights.baseAddress!, xq.baseAddress!, xd.baseAddress!, xs.baseAddress!))
                        let sixteen = UncheckedSendable((x.sums16, x.runs16))
                        let count = min(ForkJoin.shared.workers + 1, max(1, rows / 4))
                        ForkJoin.shared.run { chunk in
                            guard chunk < count else { return }
                            let (w, q, d, s) = views.value
                            let chunkRows = (chunk * rows / count)..<((chunk + 1) * rows / count)
                            @inline(__always) func store(_ value: Float, token t: Int, row r: Int) {
                                let at = shared.value + t * stride + r
                                at.pointee = accumulate ? at.pointee + value : value
                            }
                            #if arch(x86_64)
                                // Several tokens: each row decoded once per tile of 128 tokens
                                // (whose activations stay in cache), the same bits as below.
                                if x.rows > 1 {
                                    let decoded = DecodedRow(format: format, blocks: blocks)
                                    defer { decoded.deallocate() }
                                    let (sums16, runs16) = sixteen.value
                                    sums16.withUnsafeBufferPointer { sums in
                                        runs16.withUnsafeBufferPointer { runs in
                                            for tile in Swift.stride(from: 0, to: x.rows, by: 128) {
                                                for r in chunkRows {
                                                    decoded.decode(w + r * blocks * blockBytes)
                                                    for t in tile..<min(x.rows, tile + 128) {
                                                        let value = decoded.dot(
                                                            q + t * blocks * 256, d + t * blocks, sums.baseAddress! + t * blocks * 16, runs.baseAddress! + t * blocks * 8)
                                                        store(value, token: t, row: r)
                                                    }
                                                }
                                            }
                                        }
                                    }
                                    return
                                }
                            #endif
                            for r in chunkRows {
                                for t in 0..<x.rows {
                                    let (row, token, scales, sums) = (w + r * blocks * blockBytes, q + t * blocks * 256, d + t * blocks, s + t * blocks * 16)
                                    let value =
                                        switch format {
                                        case .q4K: Q4K.dot(row, token, scales, sums, blocks)
                                        case .q5K: Q5K.dot(row, token, scales, sums, blocks)
                                        case .q6K: Q6K.dot(row, token, scales, sums, blocks)
                                        }
                                    store(value, token: t, row: r)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
