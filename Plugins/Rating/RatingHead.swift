import RecCore
import RecTensor

/// The output end both neural rating baselines share: ReLU layers `hidden` and a linear layer to
/// one value, added to the training mean μ; predictions are clipped to the training ratings'
/// range. Shapes: `[B, inputs]` -> `[B, 1]`.
struct RatingHead {
    /// `(weight [in, out], bias [out])` per layer, Xavier-normal weights and zero biases.
    let layers: [(weight: Tensor, bias: Tensor)]
    let mean: Float, range: ClosedRange<Float>

    var parameters: [Tensor] { layers.flatMap { [$0.weight, $0.bias] } }

    init(inputs: Int, hidden: [Int], ratings: [Interaction], rng: inout SplitMix64) {
        var width = inputs
        var layers: [(Tensor, Tensor)] = []
        for size in hidden + [1] {
            layers.append((Initializer.normal([width, size], std: (2 / Float(width + size)).squareRoot(), rng: &rng), Tensor.zeros([size], requiresGrad: true)))
            width = size
        }
        self.layers = layers
        mean = ratings.meanRating
        range = ratings.ratingRange ?? 1...5
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (index, layer) in layers.enumerated() {
            h = index < layers.count - 1 ? h.linearReLU(layer.weight, layer.bias) : h.linear(layer.weight, layer.bias)
        }
        return h + mean
    }

    func clipped(_ value: Float) -> Float { min(range.upperBound, max(range.lowerBound, value)) }
}
