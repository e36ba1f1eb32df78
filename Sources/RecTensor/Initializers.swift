import RecCore

/// Seeded parameter initialisers.
public enum Initializer {
    /// Normal with mean 0 and standard deviation `std` (BERT and RecBole use 0.02).
    public static func normal(_ shape: [Int], std: Float, rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(rng.nextGaussian()) * std }, requiresGrad: true)
    }

    /// Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fanIn + fanOut)), for a [fanIn, fanOut] matrix.
    public static func xavierUniform(_ shape: [Int], rng: inout SplitMix64) -> Tensor {
        let bound = (6 / Float(shape[0] + shape[shape.count - 1])).squareRoot()
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in (rng.nextFloat() * 2 - 1) * bound }, requiresGrad: true)
    }

    public static func constant(_ shape: [Int], _ value: Float) -> Tensor {
        Tensor(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)), requiresGrad: true)
    }
}
