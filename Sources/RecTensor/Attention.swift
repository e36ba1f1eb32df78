import Foundation
import RecCore

extension Tensor {
    /// Scaled dot-product attention, fused: `softmax(Q Kᵀ / sqrt(d) + mask) V` for `q` of shape
    /// `[B, heads, Tq, d]` and `k, v` of shape `[B, heads, Tk, d]` (causal needs Tq = Tk).
    ///
    /// - Parameters:
    ///   - causal: position i attends to positions <= i only.
    ///   - keyPadding: `[B][T]`, true where a key is padding; padded keys are not attended.
    ///   - dropout: dropout on the attention probabilities (training only), from `rng`.
    /// Masked scores get -10000 added, as BERT and RecBole do, so a row whose keys are all masked
    /// (a padding query) stays finite instead of producing NaN.
    public static func attention(
        q: Tensor, k: Tensor, v: Tensor, causal: Bool, keyPadding: [[Bool]]? = nil,
        dropout: Float = 0, training: Bool = false, rng: inout SplitMix64
    ) -> Tensor {
        precondition(q.rank == 4 && k.shape == v.shape && Array(q.shape.prefix(2)) == Array(k.shape.prefix(2)) && q.shape[3] == k.shape[3],
                     "attention needs q [B, h, Tq, d] and k, v [B, h, Tk, d]")
        let (b, h, t, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let tk = k.shape[2]
        precondition(!causal || t == tk, "causal attention needs as many queries as keys")
        let scale = 1 / Float(d).squareRoot()
        let groups = b * h
        var probabilities = [Float](repeating: 0, count: groups * t * tk)
        // Additive mask per batch row: [B, Tq, Tk].
        var mask = [Float](repeating: 0, count: b * t * tk)
        for batch in 0..<b {
            for i in 0..<t {
                for j in 0..<tk where (causal && j > i) || (keyPadding?[batch][j] ?? false) {
                    mask[(batch * t + i) * tk + j] = -10_000
                }
            }
        }
        q.data.withUnsafeBufferPointer { qp in k.data.withUnsafeBufferPointer { kp in probabilities.withUnsafeMutableBufferPointer { p in
            for group in 0..<groups {
                // S = Q Kᵀ: [Tq, d] x [Tk, d]ᵀ
                gemm(qp.baseAddress! + group * t * d, kp.baseAddress! + group * tk * d, p.baseAddress! + group * t * tk, m: t, n: tk, k: d, transposeB: true)
            }
            for group in 0..<groups {
                let batch = group / h
                for i in 0..<t {
                    let row = (group * t + i) * tk
                    var m = -Float.infinity
                    for j in 0..<tk {
                        let s = p[row + j] * scale + mask[(batch * t + i) * tk + j]
                        p[row + j] = s
                        m = max(m, s)
                    }
                    var total: Float = 0
                    for j in 0..<tk { let e = exp(p[row + j] - m); p[row + j] = e; total += e }
                    let inverse = 1 / total
                    for j in 0..<tk { p[row + j] *= inverse }
                }
            }
        } } }
        // Dropout on the probabilities (inverted), remembered for the backward pass.
        var kept = probabilities
        var dropMask: [Float]? = nil
        if training && dropout > 0 {
            let keep = 1 - dropout
            let drawn = (0..<kept.count).map { _ in rng.nextFloat() < keep ? 1 / keep : Float(0) }
            for i in 0..<kept.count { kept[i] *= drawn[i] }
            dropMask = drawn
        }
        var out = [Float](repeating: 0, count: q.count)
        kept.withUnsafeBufferPointer { p in v.data.withUnsafeBufferPointer { vp in out.withUnsafeMutableBufferPointer { o in
            for group in 0..<groups {
                gemm(p.baseAddress! + group * t * tk, vp.baseAddress! + group * tk * d, o.baseAddress! + group * t * d, m: t, n: d, k: tk)
            }
        } } }
        return Tensor(shape: q.shape, data: out, parents: [q, k, v]) { result in
            let g = result.grad!
            var dq = [Float](repeating: 0, count: q.count)
            var dk = [Float](repeating: 0, count: k.count), dv = dk
            var dp = [Float](repeating: 0, count: groups * t * tk)
            g.withUnsafeBufferPointer { g in
                // dV = P_keptᵀ dO ; dP_kept = dO Vᵀ
                kept.withUnsafeBufferPointer { p in dv.withUnsafeMutableBufferPointer { dvp in
                    for group in 0..<groups {
                        gemm(p.baseAddress! + group * t * tk, g.baseAddress! + group * t * d, dvp.baseAddress! + group * tk * d, m: tk, n: d, k: t, transposeA: true)
                    }
                } }
                v.data.withUnsafeBufferPointer { vp in dp.withUnsafeMutableBufferPointer { dpp in
                    for group in 0..<groups {
                        gemm(g.baseAddress! + group * t * d, vp.baseAddress! + group * tk * d, dpp.baseAddress! + group * t * tk, m: t, n: tk, k: d, transposeB: true)
                    }
                } }
            }
            if let dropMask { for i in 0..<dp.count { dp[i] *= dropMask[i] } }
            // dS = P ⊙ (dP - rowsum(dP ⊙ P)), then the 1/sqrt(d) scale.
            for row in 0..<(groups * t) {
                let base = row * tk
                var dot: Float = 0
                for j in 0..<tk { dot += dp[base + j] * probabilities[base + j] }
                for j in 0..<tk { dp[base + j] = probabilities[base + j] * (dp[base + j] - dot) * scale }
            }
            dp.withUnsafeBufferPointer { ds in
                // dQ = dS K ; dK = dSᵀ Q
                k.data.withUnsafeBufferPointer { kp in dq.withUnsafeMutableBufferPointer { dqp in
                    for group in 0..<groups {
                        gemm(ds.baseAddress! + group * t * tk, kp.baseAddress! + group * tk * d, dqp.baseAddress! + group * t * d, m: t, n: d, k: tk)
                    }
                } }
                q.data.withUnsafeBufferPointer { qp in dk.withUnsafeMutableBufferPointer { dkp in
                    for group in 0..<groups {
                        gemm(ds.baseAddress! + group * t * tk, qp.baseAddress! + group * t * d, dkp.baseAddress! + group * tk * d, m: tk, n: d, k: t, transposeA: true)
                    }
                } }
            }
            if q.requiresGrad { q.accumulate(dq) }
            if k.requiresGrad { k.accumulate(dk) }
            if v.requiresGrad { v.accumulate(dv) }
        }
    }
}
