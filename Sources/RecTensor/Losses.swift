import Foundation

/// Losses that end a graph in a scalar.
public enum Loss {
    /// Mean cross-entropy of `logits` `[N, C]` against class `targets` (one per row); rows whose
    /// target is negative are ignored. Over a full vocabulary this is the softmax loss; over
    /// `[positive, negatives...]` columns with target 0 it is the sampled-softmax loss.
    public static func crossEntropy(_ logits: Tensor, targets: [Int32]) -> Tensor {
        let c = logits.shape[logits.rank - 1], n = logits.count / c
        precondition(targets.count == n, "one target per row: \(targets.count) targets for \(n) rows")
        let probabilities = Tensor.softmaxRows(logits.data, width: c)
        let valid = targets.filter { $0 >= 0 }.count
        var total: Double = 0
        for (r, target) in targets.enumerated() where target >= 0 {
            precondition(Int(target) < c, "target \(target) outside \(c) classes")
            // -log p_t from the logits: lse - x_t.
            let base = r * c
            var m = -Float.infinity
            for j in 0..<c { m = max(m, logits.data[base + j]) }
            var sum: Double = 0
            for j in 0..<c { sum += Double(exp(logits.data[base + j] - m)) }
            total += Double(m) + log(sum) - Double(logits.data[base + Int(target)])
        }
        let scale = 1 / Float(max(1, valid))
        return Tensor(shape: [], data: [Float(total) * scale], parents: [logits]) { result in
            let g = result.grad![0] * scale
            var dx = [Float](repeating: 0, count: logits.count)
            for (r, target) in targets.enumerated() where target >= 0 {
                let base = r * c
                for j in 0..<c { dx[base + j] = g * probabilities[base + j] }
                dx[base + Int(target)] -= g
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
            logits.accumulate((0..<logits.count).map { i in
                w[i] == 0 ? 0 : g * w[i] * (1 / (1 + exp(-logits.data[i])) - labels[i])
            })
        }
    }
}
