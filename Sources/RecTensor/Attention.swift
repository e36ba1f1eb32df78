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
        precondition(
            q.rank == 4 && k.shape == v.shape && Array(q.shape.prefix(2)) == Array(k.shape.prefix(2)) && q.shape[3] == k.shape[3],
            "attention needs q [B, h, Tq, d] and k, v [B, h, Tk, d]")
        let layout = AttentionLayout(heads: q.shape[1], queries: q.shape[2], keys: k.shape[2], width: q.shape[3], headMajor: true)
        return attention(q, k, v, layout, causal: causal, keyPadding: keyPadding, dropout: dropout, training: training, rng: &rng)
    }

    /// The same attention on token-major tensors: `q` `[B, Tq, H]` and `k, v` `[B, Tk, H]` with
    /// `H = heads · d`, giving `[B, Tq, H]`. Each head is a strided view read and written by
    /// `cblas_sgemm` in place, so splitting and merging heads costs no copies.
    public static func attention(
        q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool, keyPadding: [[Bool]]? = nil,
        dropout: Float = 0, training: Bool = false, rng: inout SplitMix64
    ) -> Tensor {
        precondition(
            q.rank == 3 && k.shape == v.shape && q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2] && q.shape[2] % heads == 0,
            "attention needs q [B, Tq, H] and k, v [B, Tk, H] with H divisible by \(heads) heads")
        let layout = AttentionLayout(heads: heads, queries: q.shape[1], keys: k.shape[1], width: q.shape[2] / heads, headMajor: false)
        return attention(q, k, v, layout, causal: causal, keyPadding: keyPadding, dropout: dropout, training: training, rng: &rng)
    }

    private static func attention(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, _ layout: AttentionLayout, causal: Bool, keyPadding: [[Bool]]?,
        dropout: Float, training: Bool, rng: inout SplitMix64
    ) -> Tensor {
        let (t, tk, d, heads) = (layout.queries, layout.keys, layout.width, layout.heads)
        precondition(!causal || t == tk, "causal attention needs as many queries as keys")
        let groups = q.count / (t * d), ld = layout.rowStride
        let scale = 1 / Float(d).squareRoot()
        let qs = { (group: Int) in layout.start(group, length: t) }, ks = { (group: Int) in layout.start(group, length: tk) }
        // P = softmax(S) per (batch, head) block: [groups, Tq, Tk].
        let probabilities = q.data.withUnsafeBufferPointer { qp in
            k.data.withUnsafeBufferPointer { kp in
                makeArray(groups * t * tk) { p in
                    for group in 0..<groups {
                        let block = p.baseAddress! + group * t * tk
                        gemm(qp.baseAddress! + qs(group), kp.baseAddress! + ks(group), block, m: t, n: tk, k: d, transposeB: true, lda: ld, ldb: ld)
                        let padding = keyPadding?[group / heads]
                        for i in 0..<t {
                            let row = block + i * tk
                            for j in 0..<tk {
                                let masked = (causal && j > i) || (padding?[j] ?? false)
                                row[j] = row[j] * scale - (masked ? 10_000 : 0)
                            }
                            softmaxInPlace(row, tk)
                        }
                    }
                }
            }
        }
        // Dropout on the probabilities (inverted), remembered for the backward pass.
        var kept = probabilities
        var dropMask: [Float]? = nil
        if training && dropout > 0 {
            let keep = 1 - dropout
            let drawn = makeArray(kept.count) { m in for i in 0..<m.count { m[i] = rng.nextFloat() < keep ? 1 / keep : 0 } }
            kept.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= drawn[i] } }
            dropMask = drawn
        }
        let out = kept.withUnsafeBufferPointer { p in
            v.data.withUnsafeBufferPointer { vp in
                makeArray(q.count) { o in
                    for group in 0..<groups {
                        gemm(p.baseAddress! + group * t * tk, vp.baseAddress! + ks(group), o.baseAddress! + qs(group), m: t, n: d, k: tk, ldb: ld, ldc: ld)
                    }
                }
            }
        }
        return Tensor(shape: q.shape, data: out, parents: [q, k, v]) { result in
            result.grad!.withUnsafeBufferPointer { g in
                // dV = P_keptᵀ dO ; dP_kept = dO Vᵀ
                let dv = kept.withUnsafeBufferPointer { p in
                    makeArray(v.count) { dvp in
                        for group in 0..<groups {
                            gemm(
                                p.baseAddress! + group * t * tk, g.baseAddress! + qs(group), dvp.baseAddress! + ks(group),
                                m: tk, n: d, k: t, transposeA: true, ldb: ld, ldc: ld)
                        }
                    }
                }
                // dS = P ⊙ (dP - rowsum(dP ⊙ P)), with dropout's mask and the 1/sqrt(d) scale.
                let ds = v.data.withUnsafeBufferPointer { vp in
                    probabilities.withUnsafeBufferPointer { p in
                        makeArray(groups * t * tk) { dp in
                            for group in 0..<groups {
                                gemm(
                                    g.baseAddress! + qs(group), vp.baseAddress! + ks(group), dp.baseAddress! + group * t * tk,
                                    m: t, n: tk, k: d, transposeB: true, lda: ld, ldb: ld)
                            }
                            if let dropMask { for i in 0..<dp.count { dp[i] *= dropMask[i] } }
                            for row in 0..<(groups * t) {
                                let base = row * tk
                                var dot: Float = 0
                                for j in 0..<tk { dot += dp[base + j] * p[base + j] }
                                for j in 0..<tk { dp[base + j] = p[base + j] * (dp[base + j] - dot) * scale }
                            }
                        }
                    }
                }
                // dQ = dS K ; dK = dSᵀ Q
                ds.withUnsafeBufferPointer { s in
                    if q.requiresGrad {
                        q.accumulate(
                            k.data.withUnsafeBufferPointer { kp in
                                makeArray(q.count) { dq in
                                    for group in 0..<groups {
                                        gemm(
                                            s.baseAddress! + group * t * tk, kp.baseAddress! + ks(group), dq.baseAddress! + qs(group),
                                            m: t, n: d, k: tk, ldb: ld, ldc: ld)
                                    }
                                }
                            })
                    }
                    if k.requiresGrad {
                        k.accumulate(
                            q.data.withUnsafeBufferPointer { qp in
                                makeArray(k.count) { dk in
                                    for group in 0..<groups {
                                        gemm(
                                            s.baseAddress! + group * t * tk, qp.baseAddress! + qs(group), dk.baseAddress! + ks(group),
                                            m: tk, n: d, k: t, transposeA: true, ldb: ld, ldc: ld)
                                    }
                                }
                            })
                    }
                }
                if v.requiresGrad { v.accumulate(dv) }
            }
        }
    }
}

/// Where each (batch, head) block of an attention input lives: head-major `[B, heads, T, d]`
/// (rows of `d`) or token-major `[B, T, heads · d]` (rows of `heads · d`, the head at an offset).
struct AttentionLayout {
    let heads, queries, keys, width: Int
    let headMajor: Bool

    var rowStride: Int { headMajor ? width : heads * width }

    /// Offset of the first row of block `group` (= batch · heads + head) in a tensor with
    /// `length` positions per sequence.
    func start(_ group: Int, length: Int) -> Int {
        headMajor ? group * length * width : (group / heads) * length * heads * width + (group % heads) * width
    }
}
