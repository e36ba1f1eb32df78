import Foundation

/// Losses that end a graph in a scalar.
public enum Loss {
    /// Mean cross-entropy of `logits` `[N, C]` against class `targets` (one per row); rows whose
    /// target is negative are ignored. Over a full vocabulary this is the softmax loss; over
    /// `[positive, negatives...]` columns with target 0 it is the sampled-softmax loss.
    public static func crossEntropy(_ logits: Tensor, targets: [Int32]) -> Tensor {
        let c = logits.shape[logits.rank - 1], n = logits.count / c
        precondition(targets.count == n, "one target per row: \(targets.count) targets for \(n) rows")
        let valid = targets.filter { $0 >= 0 }.count
        // -log p_t = lse - x_t; the row's log-sum-exp is kept for the backward pass.
        var lse = [Float](repeating: 0, count: n)
        var total: Double = 0
        logits.data.withUnsafeBufferPointer { x in
            for (r, target) in targets.enumerated() where target >= 0 {
                precondition(Int(target) < c, "target \(target) outside \(c) classes")
                lse[r] = logSumExp(x.baseAddress! + r * c, c)
                total += Double(lse[r]) - Double(x[r * c + Int(target)])
            }
        }
        let scale = 1 / Float(max(1, valid))
        return Tensor(shape: [], data: [Float(total) * scale], parents: [logits]) { result in
            let g = result.grad![0] * scale
            let dx = logits.data.withUnsafeBufferPointer { x in
                makeArray(logits.count) { dx in
                    for (r, target) in targets.enumerated() {
                        let row = x.baseAddress! + r * c, out = dx.baseAddress! + r * c
                        guard target >= 0 else { out.initialize(repeating: 0, count: c); continue }
                        // softmax_j = exp(x_j - lse)
                        forEachLanes(c) { offset, load in store(g * vexp(load(row) - lse[r]), out, offset: offset, count: c) }
                        out[Int(target)] -= g
                    }
                }
            }
            logits.accumulate(dx)
        }
    }

    /// Mean binary cross-entropy of `sigmoid(logits)` against `labels` (0 or 1), computed
    /// stably as `max(x, 0) - x y + log(1 + exp(-|x|))`. Entries with `weights` 0 are ignored
    /// (padding); the mean is over the weighted entries.
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, labels: [Float], weights: [Float]? = nil) -> Tensor {
        precondition(labels.count == logits.count, "one label per logit")
        let w = weights ?? [Float](repeating: 1, count: logits.count)
        let denominator = max(w.reduce(0, +), 1e-12)
        var total: Double = 0
        for i in 0..<logits.count where w[i] != 0 {
            let x = logits.data[i]
            total += Double(w[i] * (max(x, 0) - x * labels[i] + log1p(exp(-abs(x)))))
        }
        return Tensor(shape: [], data: [Float(total) / denominator], parents: [logits]) { result in
            let g = result.grad![0] / denominator
            logits.accumulate(
                (0..<logits.count).map { i in
                    w[i] == 0 ? 0 : g * w[i] * (1 / (1 + exp(-logits.data[i])) - labels[i])
                })
        }
    }
}
