import Foundation

#if arch(x86_64)
    import RecQuantWide
#endif

// The element-wise functions and attention products of ggml's CPU backend (built with AVX-512,
// as llama.cpp builds itself for the machine it runs on), in the same order of operations, so
// that the Float32 values entering each 8-bit quantisation are the same bits.

/// ggml's `ggml_v_expf` (AVX-512): a degree-5 polynomial on the reduced argument, scaled by
/// 2ⁿ; |n| > 192 flushes to 0 or +∞.
@inline(__always) func ggmlExp(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let r = SIMD16<Float>(repeating: 0x1.8p23)
    let z = r.addingProduct(x, SIMD16(repeating: 0x1.715476p+0))
    let n = z - r
    // fnmadd(a, b, c) = c - a b, fused.
    let b = x.addingProduct(-n, SIMD16(repeating: 0x1.62e4p-1)).addingProduct(-n, SIMD16(repeating: 0x1.7f7d1cp-20))
    let u = b * b
    let inner = SIMD16<Float>(repeating: 0x1.573e2ep-5).addingProduct(SIMD16(repeating: 0x1.0e4020p-7), b)
    let outer = SIMD16<Float>(repeating: 0x1.fffdb6p-2).addingProduct(SIMD16(repeating: 0x1.555e66p-3), b)
    let first = SIMD16<Float>(repeating: 1).addingProduct(SIMD16(repeating: 0x1.ffffecp-1), b)
    let j = first.addingProduct(outer.addingProduct(inner, u), u)
    // scalef(j, n) = j · 2ⁿ. In the normal range 2ⁿ is exact as a Float, built from n, which
    // sits in the low bits of z (z = 1.5 · 2²³ + n); elsewhere per lane.
    if all(n .>= -126) && all(n .<= 127) {
        let bits = unsafeBitCast(z, to: SIMD16<Int32>.self) &- unsafeBitCast(r, to: SIMD16<Int32>.self)
        return j * unsafeBitCast((bits &+ 127) &<< 23, to: SIMD16<Float>.self)
    }
    var out = SIMD16<Float>()
    for i in 0..<16 {
        // NaN (from damaged weights) stays NaN, for the caller's finiteness check to report.
        if n[i].isNaN {
            out[i] = .nan
        } else if abs(n[i]) > 192 {
            out[i] = n[i] <= 0 ? 0 : .infinity
        } else {
            out[i] = Float(sign: .plus, exponent: Int(n[i]), significand: 1) * j[i]
        }
    }
    return out
}

/// `_mm512_reduce_add_ps`: halves added (i + 8, then i + 4, i + 2, i + 1).
@inline(__always) func reduce16(_ a: SIMD16<Float>) -> Float {
    let eight = a.highHalf + a.lowHalf, four = eight.highHalf + eight.lowHalf
    let two = SIMD2(four[0] + four[2], four[1] + four[3])
    return two[0] + two[1]
}

/// ggml's `soft_max_ext` on one row of `n` scores, `count` of them padded to a multiple of 16
/// with -∞ (llama.cpp pads its key-value length to 256, and masked columns are -∞): the
/// scaled scores, exponentials of 16 at a time summed in Float64, then scaled by the reciprocal
/// of the sum.
public func ggmlSoftmax(_ row: UnsafeMutablePointer<Float>, count n: Int, padded: Int, scale: Float) {
    precondition(padded % 16 == 0 && padded >= n)
    // Scaled, and their maximum (the same value whichever order the maximum is taken in).
    var maximum = -Float.infinity, j = 0
    if n >= 16 {
        var lanes = SIMD16<Float>(repeating: -.infinity)
        let raw = UnsafeMutableRawPointer(row)
        while j + 16 <= n {
            let scaled = raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) * scale
            raw.storeBytes(of: scaled, toByteOffset: 4 * j, as: SIMD16<Float>.self)
            lanes.replace(with: scaled, where: scaled .> lanes)
            j += 16
        }
        maximum = lanes.max()
    }
    while j < n {
        row[j] *= scale
        maximum = max(maximum, row[j])
        j += 1
    }
    for j in n..<padded { row[j] = -.infinity }
    var sum: Double = 0
    let raw = UnsafeMutableRawPointer(row)
    for c in Swift.stride(from: 0, to: padded, by: 16) {
        let scores = raw.loadUnaligned(fromByteOffset: 4 * c, as: SIMD16<Float>.self)
        // A chunk that is all masked gives zeros and adds nothing to the sum.
        if scores.max() == -.infinity {
            raw.storeBytes(of: SIMD16<Float>(), toByteOffset: 4 * c, as: SIMD16<Float>.self)
            continue
        }
        let value = ggmlExp(scores - maximum)
        raw.storeBytes(of: value, toByteOffset: 4 * c, as: SIMD16<Float>.self)
        sum += Double(reduce16(value))
    }
    let inverse = Float(1 / sum)
    for j in 0..<padded { row[j] *= inverse }
}

/// ggml's SwiGLU: `silu(g) · u` with `silu(x) = x / (1 + exp(0 - x))`, 16 lanes at a time.
public func ggmlSwiGLU(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int) {
    var i = 0
    while i + 16 <= n {
        let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD16<Float>.self)
        let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD16<Float>.self)
        let silu = g / (1 + ggmlExp(SIMD16<Float>() - g))
        UnsafeMutableRawPointer(out + i).storeBytes(of: silu * u, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n {
        let g = gate[i]
        out[i] = g / (1 + Foundation.exp(-g)) * up[i]
        i += 1
    }
}

/// ggml's GELU table: for every Float16 bit pattern x, `gelu(x)` rounded to Float16, with
/// `gelu(x) = 0.5 x (1 + tanh(√(2/π) x (1 + 0.044715 x²)))` evaluated as ggml's GCC build does
/// (the `1 + a x x` fused; exact either way for Float16 inputs, as the table shows).
public let ggmlGELUTable: [UInt16] = (0..<65536).map { (bits: Int) -> UInt16 in
    let x = Float(Float16(bitPattern: UInt16(bits)))
    let inner = Float(1).addingProduct(Float(0.044715) * x, x)
    let value = Float(0.5) * x * (1 + Foundation.tanh(Float(0.797_884_560_802_865_355_879_892_119_868_76) * x * inner))
    // A NaN comes out quiet with x's sign and no payload: a NaN input propagates, and −∞ gives
    // x86's default NaN, which is negative.
    return value.isNaN ? (x.sign == .minus ? 0xFE00 : 0x7E00) : Float16(value).bitPattern
}

/// ggml's GeGLU as its Float32 path runs it: `gelu(g) · u`, gelu read from `ggmlGELUTable` at
/// g rounded to Float16, 0 below −10 and g itself above 10.
public func ggmlGeGLU(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int) {
    ggmlGELUTable.withUnsafeBufferPointer { table in
        for i in 0..<n {
            let g = gate[i]
            if g <= -10 {
                out[i] = 0
            } else if g >= 10 {
                out[i] = g * up[i]
            } else {
                out[i] = Float(Float16(bitPattern: table[Int(Float16(g).bitPattern)])) * up[i]
            }
        }
    }
}

/// One score of tinyBLAS's F16 product (AVX-512): sixteen lanes, lane l accumulating
/// `q[l + 16c] k[l + 16c]` over chunks c with fused multiply-adds, then `reduce16`.
/// `q` and `k` hold Float16 values widened, so every product is exact.
@inline(__always) func tinyDot(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD16<Float>()
    var c = 0
    while c < count {
        acc = acc.addingProduct(
            UnsafeRawPointer(q + c).loadUnaligned(as: SIMD16<Float>.self),
            UnsafeRawPointer(k + c).loadUnaligned(as: SIMD16<Float>.self))
        c += 16
    }
    return reduce16(acc)
}

/// Attention scores of `rows` queries (row stride `queryStride`) against the keys (row stride
/// `keyStride`), `dim` values each, into `out` (row stride `outStride`), in tinyBLAS's order.
/// Row i sees keys `0..<start`, then `visibleFrom[i]...start + i` (its own branch, or all new
/// rows before it), written as if they followed the first ones (columns `start...`): a branch
/// is laid out exactly as it would be alone, and nothing it cannot see is computed. Rows of one
/// branch go four at a time on the wide path (`wide`, default `BlockQuantizedMatrix.wide`, where
/// the CPU has AVX-512: `dotsFour`), else two at a time; the bits are the same.
public func attentionScores(
    _ q: UnsafePointer<Float>, queryStride: Int, _ k: UnsafePointer<Float>, keyStride: Int,
    rows: Int, start: Int, visibleFrom: [Int], dim: Int, into out: UnsafeMutablePointer<Float>, outStride: Int, wide: Bool? = nil
) {
    precondition(dim % 16 == 0)
    let wide = BlockQuantizedMatrix.usesWide(wide)
    var i = 0
    while i < rows {
        let row = out + i * outStride, query = q + i * queryStride, from = visibleFrom[i]
        #if arch(x86_64)
            if wide, i + 3 < rows, visibleFrom[i + 3] == from {
                // Four rows of one branch: the keys all see, then rows i + 1 to i + 3's own.
                dotsFour(query, queryStride: queryStride, k, keyStride: keyStride, columns: 0..<start, dim: dim, into: row, outStride: outStride)
                dotsFour(
                    query, queryStride: queryStride, k, keyStride: keyStride, columns: from..<(start + i + 1), dim: dim, into: row + start - from,
                    outStride: outStride)
                for r in 1...3 {
                    for key in (start + i + 1)...(start + i + r) {
                        row[r * outStride + key + start - from] = tinyDot(query + r * queryStride, k + key * keyStride, count: dim)
                    }
                }
                i += 4
                continue
            }
        #endif
        guard i + 1 < rows, visibleFrom[i + 1] == from else {
            tinyDots(query, k, keyStride: keyStride, columns: 0..<start, dim: dim, into: row)
            tinyDots(query, k, keyStride: keyStride, columns: from..<(start + i + 1), dim: dim, into: row + start - from)
            i += 1
            continue
        }
        // Two rows of one branch: the keys both see together, then the second row's own key.
        let next = row + outStride, nextQuery = query + queryStride
        tinyDotsTwo(query, nextQuery, k, keyStride: keyStride, columns: 0..<start, dim: dim, into: row, next)
        tinyDotsTwo(query, nextQuery, k, keyStride: keyStride, columns: from..<(start + i + 1), dim: dim, into: row + start - from, next + start - from)
        next[2 * start + i + 1 - from] = tinyDot(nextQuery, k + (start + i + 1) * keyStride, count: dim)
        i += 2
    }
}

/// `out[j] = tinyDot(q, k + j · keyStride)` for the keys `columns`, four keys at a time: four
/// independent chains of fused multiply-adds in flight, each in `tinyDot`'s order.
@inline(__always) func tinyDots(
    _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, keyStride: Int, columns: Range<Int>, dim: Int, into out: UnsafeMutablePointer<Float>
) {
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
    var j = columns.lowerBound
    while j + 4 <= columns.upperBound {
        let (k0, k1, k2, k3) = (k + j * keyStride, k + (j + 1) * keyStride, k + (j + 2) * keyStride, k + (j + 3) * keyStride)
        var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, c = 0
        while c < dim {
            let x = load(q + c)
            a0 = a0.addingProduct(x, load(k0 + c))
            a1 = a1.addingProduct(x, load(k1 + c))
            a2 = a2.addingProduct(x, load(k2 + c))
            a3 = a3.addingProduct(x, load(k3 + c))
            c += 16
        }
        (out[j], out[j + 1], out[j + 2], out[j + 3]) = (reduce16(a0), reduce16(a1), reduce16(a2), reduce16(a3))
        j += 4
    }
    while j < columns.upperBound {
        out[j] = tinyDot(q, k + j * keyStride, count: dim)
        j += 1
    }
}

/// Where the value of weight k lives: row k, or row k + `by` from weight `from` on (a branch's
/// own rows, laid out after the shared ones as `attentionScores` lays out their scores).
public struct ValueRows: Sendable {
    public var from: Int, by: Int
    public static let inPlace = ValueRows(from: 0, by: 0)
    public init(from: Int, by: Int) { (self.from, self.by) = (from, by) }
    @inline(__always) func row(_ k: Int) -> Int { k < from ? k : k + by }
}

/// The partial sums both attention-value orders start from: row `k mod slots` of `scratch`
/// (`slots · dim` floats) accumulates `p[k] v[k, ·]` with fused multiply-adds in order of k.
@inline(__always) func accumulateWeightedValues(
    _ p: UnsafePointer<Float>, count n: Int, rows: ValueRows, _ v: UnsafePointer<Float>,
    valueStride: Int, dim: Int, slots: Int, into scratch: UnsafeMutablePointer<Float>
) {
    let s = UnsafeMutableRawPointer(scratch)
    @inline(__always) func value(_ k: Int, _ d: Int) -> SIMD16<Float> { UnsafeRawPointer(v + rows.row(k) * valueStride + d).loadUnaligned(as: SIMD16<Float>.self) }
    // Slot by slot, 64 dimensions at a time held in registers: each slot's chain of fused
    // multiply-adds runs over its weights in order of k, as the sum's order requires, without
    // a round trip through memory per weight.
    for slot in 0..<slots {
        var d = 0
        while d + 64 <= dim {
            var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0
            var k = slot
            while k < n {
                let weight = SIMD16<Float>(repeating: p[k])
                a0 = a0.addingProduct(weight, value(k, d))
                a1 = a1.addingProduct(weight, value(k, d + 16))
                a2 = a2.addingProduct(weight, value(k, d + 32))
                a3 = a3.addingProduct(weight, value(k, d + 48))
                k += slots
            }
            let at = 4 * (slot * dim + d)
            s.storeBytes(of: a0, toByteOffset: at, as: SIMD16<Float>.self)
            s.storeBytes(of: a1, toByteOffset: at + 64, as: SIMD16<Float>.self)
            s.storeBytes(of: a2, toByteOffset: at + 128, as: SIMD16<Float>.self)
            s.storeBytes(of: a3, toByteOffset: at + 192, as: SIMD16<Float>.self)
            d += 64
        }
        while d < dim {
            var a = SIMD16<Float>()
            var k = slot
            while k < n {
                a = a.addingProduct(SIMD16<Float>(repeating: p[k]), value(k, d))
                k += slots
            }
            s.storeBytes(of: a, toByteOffset: 4 * (slot * dim + d), as: SIMD16<Float>.self)
            d += 16
        }
    }
}

/// `out[d] = Σ_k p[k] v[k, d]` for one row of attention weights in tinyBLAS's order: sixteen
/// partial sums by `k mod 16`, each accumulated with fused multiply-adds in order of k, then
/// added as `reduce16` adds its lanes. `rows` maps weights to value rows. `scratch` holds
/// 16 · dim floats.
public func attentionValues(
    _ p: UnsafePointer<Float>, count n: Int, rows: ValueRows, _ v: UnsafePointer<Float>, valueStride: Int,
    dim: Int, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
) {
    precondition(dim % 16 == 0)
    accumulateWeightedValues(p, count: n, rows: rows, v, valueStride: valueStride, dim: dim, slots: 16, into: scratch)
    reduceSlots(scratch, dim: dim, into: out)
}

/// `out[d]`: the sixteen partial sums of `scratch` (slot l at `l · dim`) added as `reduce16`
/// adds its lanes, vectorised over d.
@inline(__always) func reduceSlots(_ scratch: UnsafeMutablePointer<Float>, dim: Int, into out: UnsafeMutablePointer<Float>) {
    let s = UnsafeMutableRawPointer(scratch)
    for d in Swift.stride(from: 0, to: dim, by: 16) {
        @inline(__always) func lane(_ l: Int) -> SIMD16<Float> { s.loadUnaligned(fromByteOffset: 4 * (l * dim + d), as: SIMD16<Float>.self) }
        @inline(__always) func eight(_ l: Int) -> SIMD16<Float> { lane(l + 8) + lane(l) }
        @inline(__always) func four(_ l: Int) -> SIMD16<Float> { eight(l + 4) + eight(l) }
        let result = (four(0) + four(2)) + (four(1) + four(3))
        UnsafeMutableRawPointer(out + d).storeBytes(of: result, as: SIMD16<Float>.self)
    }
}

/// ggml's `vec_dot_f16` (AVX-512), which llama.cpp uses instead of tinyBLAS when a batch has one
/// token: four accumulators of sixteen lanes over steps of 64 values (value i goes to
/// accumulator (i / 16) mod 4, lane i mod 16), reduced as (a0 + a2) + (a1 + a3), then
/// `reduce16`. `count` is a multiple of 64.
@inline(__always) func vecDotF16(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
    var a = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
    @inline(__always) func chunk(_ i: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self), UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self))
    }
    var i = 0
    while i < count {
        let (x0, y0) = chunk(i), (x1, y1) = chunk(i + 16), (x2, y2) = chunk(i + 32), (x3, y3) = chunk(i + 48)
        a = (a.0.addingProduct(x0, y0), a.1.addingProduct(x1, y1), a.2.addingProduct(x2, y2), a.3.addingProduct(x3, y3))
        i += 64
    }
    return reduce16((a.0 + a.2) + (a.1 + a.3))
}

/// One query's attention scores in `vec_dot_f16`'s order (`dim` a multiple of 64).
public func attentionScoresOneToken(
    _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, keyStride: Int, columns: Int, dim: Int,
    into out: UnsafeMutablePointer<Float>
) {
    precondition(dim % 64 == 0)
    for j in 0..<columns { out[j] = vecDotF16(q, k + j * keyStride, count: dim) }
}

/// One row of attention weights times the values in `vec_dot_f16`'s order: for each output
/// dimension, value k of the sum goes to accumulator (k / 16) mod 4, lane k mod 16. `scratch`
/// holds 64 · dim floats.
public func attentionValuesOneToken(
    _ p: UnsafePointer<Float>, count n: Int, _ v: UnsafePointer<Float>, valueStride: Int, dim: Int,
    into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
) {
    precondition(dim % 16 == 0)
    // Slot k mod 64 is accumulator (k / 16) mod 4, lane k mod 16.
    accumulateWeightedValues(p, count: n, rows: .inPlace, v, valueStride: valueStride, dim: dim, slots: 64, into: scratch)
    let s = UnsafeMutableRawPointer(scratch)
    // Per output d, lane l: x0[l] = (a0 + a2) + (a1 + a3) for accumulators a = slots
    // 16a + l, then reduce16 over the lanes; all of it vectorised over d.
    for d in Swift.stride(from: 0, to: dim, by: 16) {
        @inline(__always) func slot(_ i: Int) -> SIMD16<Float> { s.loadUnaligned(fromByteOffset: 4 * (i * dim + d), as: SIMD16<Float>.self) }
        @inline(__always) func lane(_ l: Int) -> SIMD16<Float> { (slot(l) + slot(32 + l)) + (slot(16 + l) + slot(48 + l)) }
        @inline(__always) func eight(_ l: Int) -> SIMD16<Float> { lane(l + 8) + lane(l) }
        @inline(__always) func four(_ l: Int) -> SIMD16<Float> { eight(l + 4) + eight(l) }
        UnsafeMutableRawPointer(out + d).storeBytes(of: (four(0) + four(2)) + (four(1) + four(3)), as: SIMD16<Float>.self)
    }
}
