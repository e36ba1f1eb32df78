/// Attention of four query rows at a time, for CPUs with AVX-512: 32 vector registers hold four
/// rows' chains against four keys (scores) or four 64-wide column blocks (weighted values), so
/// each load of a key or value row serves four queries instead of the two that 16 AVX2
/// registers allow. Every score and every partial sum is one chain of fused multiply-adds in the
/// order of RecQuant's one-row functions (`tinyDot`, `attentionValues`), so the bits are theirs.

/// `_mm512_reduce_add_ps`'s order (halves added: lanes i + 8, then i + 4, i + 2, i + 1), which
/// RecQuant's `reduce16` also follows; compiled here for AVX-512.
@inline(__always) func reduceLanes(_ a: SIMD16<Float>) -> Float {
    let eight = a.highHalf + a.lowHalf, four = eight.highHalf + eight.lowHalf
    return (four[0] + four[2]) + (four[1] + four[3])
}

@inline(__always) private func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }

/// `out[r · outStride + j] = Σ_c q_r[c] k_j[c]` for query rows r = 0...3 (`queryStride` apart) and
/// the keys `columns` (row j at `k + j · keyStride`): per pair one 16-lane chain over `dim` in
/// steps of 16, then `reduceLanes`. `dim` is a multiple of 16.
public func dotsFour(
    _ q: UnsafePointer<Float>, queryStride: Int, _ k: UnsafePointer<Float>, keyStride: Int, columns: Range<Int>, dim: Int,
    into out: UnsafeMutablePointer<Float>, outStride: Int
) {
    let (q0, q1, q2, q3) = (q, q + queryStride, q + 2 * queryStride, q + 3 * queryStride)
    var j = columns.lowerBound
    while j + 4 <= columns.upperBound {
        let (k0, k1, k2, k3) = (k + j * keyStride, k + (j + 1) * keyStride, k + (j + 2) * keyStride, k + (j + 3) * keyStride)
        // a[r][i]: query r against key j + i.
        var a0 = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>()), a1 = a0, a2 = a0, a3 = a0
        var c = 0
        while c < dim {
            let (w0, w1, w2, w3) = (load(k0 + c), load(k1 + c), load(k2 + c), load(k3 + c))
            @inline(__always) func step(_ a: inout (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), _ x: SIMD16<Float>) {
                a = (a.0.addingProduct(x, w0), a.1.addingProduct(x, w1), a.2.addingProduct(x, w2), a.3.addingProduct(x, w3))
            }
            step(&a0, load(q0 + c))
            step(&a1, load(q1 + c))
            step(&a2, load(q2 + c))
            step(&a3, load(q3 + c))
            c += 16
        }
        @inline(__always) func store(_ r: Int, _ a: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)) {
            let row = out + r * outStride + j
            (row[0], row[1], row[2], row[3]) = (reduceLanes(a.0), reduceLanes(a.1), reduceLanes(a.2), reduceLanes(a.3))
        }
        store(0, a0)
        store(1, a1)
        store(2, a2)
        store(3, a3)
        j += 4
    }
    while j < columns.upperBound {
        let key = k + j * keyStride
        var a = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>()), c = 0
        while c < dim {
            let w = load(key + c)
            a = (a.0.addingProduct(load(q0 + c), w), a.1.addingProduct(load(q1 + c), w), a.2.addingProduct(load(q2 + c), w), a.3.addingProduct(load(q3 + c), w))
            c += 16
        }
        (out[j], out[outStride + j], out[2 * outStride + j], out[3 * outStride + j]) = (reduceLanes(a.0), reduceLanes(a.1), reduceLanes(a.2), reduceLanes(a.3))
        j += 1
    }
}

/// The partial sums of `attentionValues` for four rows of weights (row r at `p + r · weightStride`,
/// `counts[r]` of them) that share a value layout: weight k reads value row k below `from` and
/// row k + `by` from there on. Per row r, slot s (k mod 16) and column block, one chain of fused
/// multiply-adds in order of k into `scratch + (16 r + s) · dim`; RecQuant's `reduceSlots` adds
/// the slots. `dim` is a multiple of 64; `scratch` holds 64 · dim floats.
public func weightedValuesFour(
    _ p: UnsafePointer<Float>, weightStride: Int, counts: SIMD4<Int>, from: Int, by: Int, _ v: UnsafePointer<Float>, valueStride: Int, dim: Int,
    into scratch: UnsafeMutablePointer<Float>
) {
    let s = UnsafeMutableRawPointer(scratch), shared = counts.min()
    @inline(__always) func value(_ k: Int, _ d: Int) -> SIMD16<Float> { load(v + (k < from ? k : k + by) * valueStride + d) }
    typealias Block = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
    @inline(__always) func step(_ a: inout Block, _ weight: Float, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>) {
        let x = SIMD16<Float>(repeating: weight)
        a = (a.0.addingProduct(x, v0), a.1.addingProduct(x, v1), a.2.addingProduct(x, v2), a.3.addingProduct(x, v3))
    }
    for slot in 0..<16 {
        for d in Swift.stride(from: 0, to: dim, by: 64) {
            var a: (Block, Block, Block, Block)
            a.0 = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
            (a.1, a.2, a.3) = (a.0, a.0, a.0)
            // The weights all four rows have, then each row's own.
            var k = slot
            while k < shared {
                let (v0, v1, v2, v3) = (value(k, d), value(k, d + 16), value(k, d + 32), value(k, d + 48))
                step(&a.0, p[k], v0, v1, v2, v3)
                step(&a.1, p[weightStride + k], v0, v1, v2, v3)
                step(&a.2, p[2 * weightStride + k], v0, v1, v2, v3)
                step(&a.3, p[3 * weightStride + k], v0, v1, v2, v3)
                k += 16
            }
            @inline(__always) func finish(_ r: Int, _ a: inout Block) {
                var tail = k
                while tail < counts[r] {
                    step(&a, p[r * weightStride + tail], value(tail, d), value(tail, d + 16), value(tail, d + 32), value(tail, d + 48))
                    tail += 16
                }
                let at = 4 * ((16 * r + slot) * dim + d)
                s.storeBytes(of: a.0, toByteOffset: at, as: SIMD16<Float>.self)
                s.storeBytes(of: a.1, toByteOffset: at + 64, as: SIMD16<Float>.self)
                s.storeBytes(of: a.2, toByteOffset: at + 128, as: SIMD16<Float>.self)
                s.storeBytes(of: a.3, toByteOffset: at + 192, as: SIMD16<Float>.self)
            }
            finish(0, &a.0)
            finish(1, &a.1)
            finish(2, &a.2)
            finish(3, &a.3)
        }
    }
}
