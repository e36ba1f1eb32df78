import Foundation
import RecCore
import RecTensor

/// The building blocks the deep CTR models share: a linear layer, an MLP, Dice with running
/// statistics. Weights are Xavier-normal and biases zero, as RecBole's context-aware models
/// initialise them.
package final class LinearLayer {
    package let weight: Tensor, bias: Tensor

    package init(_ inputs: Int, _ outputs: Int, bias hasBias: Bool = true, rng: inout SplitMix64) {
        weight = Initializer.normal([inputs, outputs], std: (2 / Float(inputs + outputs)).squareRoot(), rng: &rng)
        bias = Tensor.zeros([outputs], requiresGrad: hasBias)
    }

    /// `[..., inputs]` -> `[..., outputs]`.
    package func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight, bias) }

    package func parameters(_ name: String) -> [(String, Tensor)] { [("\(name).weight", weight), ("\(name).bias", bias)] }
}

/// Dice (DIN's activation) over the last axis, keeping running averages of the batch
/// statistics for inference (momentum 0.1, as PyTorch's batch normalisation).
final class DiceLayer {
    let alpha: Tensor
    let runningMean: Tensor, runningVariance: Tensor

    init(_ width: Int) {
        alpha = Tensor.zeros([width], requiresGrad: true)
        runningMean = Tensor.zeros([width])
        runningVariance = Tensor(shape: [width], data: [Float](repeating: 1, count: width))
    }

    /// `[N, width]` -> `[N, width]`.
    func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        guard training else { return x.dice(alpha: alpha, statistics: (runningMean.data, runningVariance.data)).output }
        let (out, mean, variance) = x.dice(alpha: alpha)
        for j in 0..<mean.count {
            runningMean.data[j] = 0.9 * runningMean.data[j] + 0.1 * mean[j]
            runningVariance.data[j] = 0.9 * runningVariance.data[j] + 0.1 * variance[j]
        }
        return out
    }

    func parameters(_ name: String) -> [(String, Tensor)] {
        [("\(name).alpha", alpha), ("\(name).running_mean", runningMean), ("\(name).running_variance", runningVariance)]
    }
}

/// Hidden layers `sizes` (dropout, linear, activation each), as RecBole's MLPLayers; the
/// activation is ReLU, sigmoid or Dice.
final class MLP {
    enum Activation: String, CaseIterable { case relu, sigmoid, dice }

    let layers: [LinearLayer]
    let dice: [DiceLayer]
    let dropout: Float
    let activation: Activation
    var outputWidth: Int

    init(_ inputs: Int, _ sizes: [Int], dropout: Double, activation: Activation = .relu, rng: inout SplitMix64) {
        var width = inputs
        var layers: [LinearLayer] = []
        for size in sizes {
            layers.append(LinearLayer(width, size, rng: &rng))
            width = size
        }
        self.layers = layers
        self.dice = activation == .dice ? sizes.map { DiceLayer($0) } : []
        self.dropout = Float(dropout)
        self.activation = activation
        outputWidth = width
    }

    /// `[N, inputs]` -> `[N, sizes.last]`.
    func callAsFunction(_ x: Tensor, training: Bool, rng: inout SplitMix64) -> Tensor {
        forward(from: 0, x, training: training, rng: &rng)
    }

    /// The MLP after its first linear layer, given that layer's output `[N, sizes[0]]`
    /// computed another way (DIN's activation unit factors it).
    func callAsFunction(firstLayerOutput h: Tensor, training: Bool, rng: inout SplitMix64) -> Tensor {
        forward(from: 1, activate(h, layer: 0, training: training), training: training, rng: &rng)
    }

    private func forward(from start: Int, _ x: Tensor, training: Bool, rng: inout SplitMix64) -> Tensor {
        var h = x
        for index in start..<layers.count {
            let input = h.dropout(dropout, training: training, rng: &rng), layer = layers[index]
            // ReLU fused into its linear layer (the same values, fewer arrays).
            h = activation == .relu ? input.linearReLU(layer.weight, layer.bias) : activate(layer(input), layer: index, training: training)
        }
        return h
    }

    private func activate(_ h: Tensor, layer index: Int, training: Bool) -> Tensor {
        switch activation {
        case .relu: h.relu()
        case .sigmoid: h.sigmoid()
        case .dice: dice[index](h, training: training)
        }
    }

    func parameters(_ name: String) -> [(String, Tensor)] {
        layers.enumerated().flatMap { $1.parameters("\(name).\($0)") } + dice.enumerated().flatMap { $1.parameters("\(name).dice\($0)") }
    }
}
