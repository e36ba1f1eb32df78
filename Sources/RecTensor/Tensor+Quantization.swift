import Foundation
import RecCore

extension Tensor {
    /// The same values, with no gradient flowing through them (`stop_gradient`).
    public func detached() -> Tensor { Tensor(shape: shape, data: data) }

    /// The straight-through estimator of a quantiser: the values of `quantized` forward, and the
    /// output's gradient passed unchanged to `self` backward (`self + stop_gradient(quantized −
    /// self)`); `quantized` receives none. Same shapes.
    public func straightThrough(_ quantized: Tensor) -> Tensor {
        precondition(shape == quantized.shape, "straightThrough needs equal shapes, got \(shape) and \(quantized.shape)")
        return Tensor(shape: shape, data: quantized.data, parents: [self]) { [self] result in
            accumulate(result.grad!)
        }
    }
}

extension Loss {
    /// VQ-VAE's codebook and commitment terms for encoder outputs `z` and their codewords `q`
    /// (both `[N, D]`), summed over the D dimensions and averaged over the N rows:
    /// `mean_i Σ_d [(sg(z) − q)² + β (z − sg(q))²]`. The first term moves the codewords towards
    /// the encoder's outputs, the second (the commitment, weight β) the outputs towards their
    /// codewords; `sg` stops the gradient, so `q` gets `2 (q − z) / N` and `z` gets
    /// `2 β (z − q) / N`.
    public static func vectorQuantization(_ z: Tensor, _ q: Tensor, beta: Float) -> Tensor {
        precondition(z.shape == q.shape && z.rank == 2, "vectorQuantization needs z and q of one shape [N, D], got \(z.shape) and \(q.shape)")
        let n = z.shape[0]
        var total = 0.0
        for i in 0..<z.count {
            let difference = Double(z.data[i] - q.data[i])
            total += difference * difference
        }
        let scale = 1 / Float(max(1, n))
        return Tensor(shape: [], data: [Float(total * Double(1 + beta)) * scale], parents: [z, q]) { result in
            let g = 2 * result.grad![0] * scale
            if z.requiresGrad { z.accumulate((0..<z.count).map { beta * g * (z.data[$0] - q.data[$0]) }) }
            if q.requiresGrad { q.accumulate((0..<q.count).map { g * (q.data[$0] - z.data[$0]) }) }
        }
    }

    /// The reconstruction error of an autoencoder: squared errors summed over the D dimensions
    /// and averaged over the N rows of `x` `[N, D]` against the fixed `target` values.
    public static func summedSquaredError(_ x: Tensor, target: [Float]) -> Tensor {
        precondition(x.count == target.count && x.rank == 2, "summedSquaredError needs [N, D] values and as many targets")
        let n = x.shape[0]
        var total = 0.0
        for i in 0..<x.count {
            let difference = Double(x.data[i] - target[i])
            total += difference * difference
        }
        let scale = 1 / Float(max(1, n))
        return Tensor(shape: [], data: [Float(total) * scale], parents: [x]) { result in
            let g = 2 * result.grad![0] * scale
            x.accumulate((0..<x.count).map { g * (x.data[$0] - target[$0]) })
        }
    }
}
