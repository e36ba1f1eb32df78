#if arch(x86_64)
    import RecQuantWide
#endif

/// Two query rows at a time for the attention of a prompt or a batch: each load of a key or a
/// value row serves both queries, and every score and every weighted sum is computed in the
/// order its one-row function (`tinyDots`, `attentionValues`) computes it, so the bits are
/// the same.

/// `out0[j] = tinyDot(q0, k_j)` and `out1[j] = tinyDot(q1, k_j)` for the keys `columns`.
@inline(__always) func tinyDotsTwo(
    _ q0: UnsafePointer<Float>, _ q1: UnsafePointer<Float>, _ k: UnsafePointer<Float>, keyStride: Int, columns: Range<Int>, dim: Int,
    into out0: UnsafeMutablePointer<Float>, _ out1: UnsafeMutablePointer<Float>
) {
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
    var j = columns.lowerBound
    while j + 4 <= columns.upperBound {
        let (k0, k1, k2, k3) = (k + j * keyStride, k + (j + 1) * keyStride, k + (j + 2) * keyStride, k + (j + 3) * keyStride)
        var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0, c = 0
        while c < dim {
            let x = load(q0 + c), y = load(q1 + c), w0 = load(k0 + c), w1 = load(k1 + c), w2 = load(k2 + c), w3 = load(k3 + c)
            a0 = a0.addingProduct(x, w0)
            b0 = b0.addingProduct(y, w0)
            a1 = a1.addingProduct(x, w1)
            b1 = b1.addingProduct(y, w1)
            a2 = a2.addingProduct(x, w2)
            b2 = b2.addingProduct(y, w2)
            a3 = a3.addingProduct(x, w3)
            b3 = b3.addingProduct(y, w3)
            c += 16
        }
        (out0[j], out0[j + 1], out0[j + 2], out0[j + 3]) = (reduce16(a0), reduce16(a1), reduce16(a2), reduce16(a3))
        (out1[j], out1[j + 1], out1[j + 2], out1[j + 3]) = (reduce16(b0), reduce16(b1), reduce16(b2), reduce16(b3))
        j += 4
    }
    while j < columns.upperBound {
        out0[j] = tinyDot(q0, k + j * keyStride, count: dim)
        out1[j] = tinyDot(q1, k + j * keyStride, count: dim)
        j += 1
    }
}

/// `attentionValues` for two rows of weights that share a value layout (`rows`): `p0` over
/// `n0` weights into `out0`, `p1` over `n1` into `out1`. `scratch` holds 32 · dim floats.
public func attentionValuesTwo(
    _ p0: UnsafePointer<Float>, count n0: Int, _ p1: UnsafePointer<Float>, count n1: Int, rows: ValueRows, _ v: UnsafePointer<Float>,
    valueStride: Int, dim: Int, into out0: UnsafeMutablePointer<Float>, _ out1: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
) {
    precondition(dim % 64 == 0)
    let s = UnsafeMutableRawPointer(scratch), second = 16 * dim, shared = min(n0, n1)
    @inline(__always) func value(_ k: Int, _ d: Int) -> SIMD16<Float> { UnsafeRawPointer(v + rows.row(k) * valueStride + d).loadUnaligned(as: SIMD16<Float>.self) }
    // Per slot (k mod 16) and 64 dimensions, both rows' chains of fused multiply-adds in order
    // of k: together over the weights both have, then the longer row alone.
    for slot in 0..<16 {
        for d in Swift.stride(from: 0, to: dim, by: 64) {
            var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0
            var k = slot
            while k < shared {
                let x = SIMD16<Float>(repeating: p0[k]), y = SIMD16<Float>(repeating: p1[k])
                let v0 = value(k, d), v1 = value(k, d + 16), v2 = value(k, d + 32), v3 = value(k, d + 48)
                a0 = a0.addingProduct(x, v0)
                b0 = b0.addingProduct(y, v0)
                a1 = a1.addingProduct(x, v1)
                b1 = b1.addingProduct(y, v1)
                a2 = a2.addingProduct(x, v2)
                b2 = b2.addingProduct(y, v2)
                a3 = a3.addingProduct(x, v3)
                b3 = b3.addingProduct(y, v3)
                k += 16
            }
            var tail = k
            while tail < n0 {
                let x = SIMD16<Float>(repeating: p0[tail])
                (a0, a1) = (a0.addingProduct(x, value(tail, d)), a1.addingProduct(x, value(tail, d + 16)))
                (a2, a3) = (a2.addingProduct(x, value(tail, d + 32)), a3.addingProduct(x, value(tail, d + 48)))
                tail += 16
            }
            tail = k
            while tail < n1 {
                let y = SIMD16<Float>(repeating: p1[tail])
                (b0, b1) = (b0.addingProduct(y, value(tail, d)), b1.addingProduct(y, value(tail, d + 16)))
                (b2, b3) = (b2.addingProduct(y, value(tail, d + 32)), b3.addingProduct(y, value(tail, d + 48)))
                tail += 16
            }
            @inline(__always) func store(_ lanes: SIMD16<Float>, _ at: Int) { s.storeBytes(of: lanes, toByteOffset: at, as: SIMD16<Float>.self) }
            let at = 4 * (slot * dim + d), next = at + 4 * second
            (store(a0, at), store(a1, at + 64), store(a2, at + 128), store(a3, at + 192))
            (store(b0, next), store(b1, next + 64), store(b2, next + 128), store(b3, next + 192))
        }
    }
    reduceSlots(scratch, dim: dim, into: out0)
    reduceSlots(scratch + second, dim: dim, into: out1)
}

/// `attentionValues` for four rows of weights of one branch (row r at `p + r · weightStride`,
/// `n + r` weights long) into `out + r · outStride`, on the wide path (`weightedValuesFour`;
/// `wide` defaults to `BlockQuantizedMatrix.wide`, and the path needs a CPU with AVX-512 VNNI);
/// returns false, having done nothing, off it or where `dim` is not a multiple of 64. `scratch`
/// holds 64 · dim floats.
public func attentionValuesFour(
    _ p: UnsafePointer<Float>, weightStride: Int, count n: Int, rows: ValueRows, _ v: UnsafePointer<Float>, valueStride: Int, dim: Int,
    into out: UnsafeMutablePointer<Float>, outStride: Int, scratch: UnsafeMutablePointer<Float>, wide: Bool? = nil
) -> Bool {
    #if arch(x86_64)
        guard BlockQuantizedMatrix.usesWide(wide), dim % 64 == 0 else { return false }
        weightedValuesFour(
            p, weightStride: weightStride, counts: SIMD4(n, n + 1, n + 2, n + 3), from: rows.from, by: rows.by, v, valueStride: valueStride, dim: dim,
            into: scratch)
        for r in 0..<4 { reduceSlots(scratch + 16 * r * dim, dim: dim, into: out + r * outStride) }
        return true
    #else
        return false
    #endif
}
