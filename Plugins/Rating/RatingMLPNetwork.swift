import Foundation
import RecCore
import RecTensor

/// The tensors of `RatingMLP` and how they train and predict (see there for the shapes).
final class RatingMLPNetwork: @unchecked Sendable {
    /// `[U, D]` and `[I, D]`, N(0, 0.1²).
    let userTable: Tensor, itemTable: Tensor
    /// `(weight [in, out], bias [out])` per layer, Xavier-normal weights; the last has one output.
    let layers: [(weight: Tensor, bias: Tensor)]
    /// The training mean μ and the training ratings' range.
    let mean: Float, range: ClosedRange<Float>

    var parameters: [Tensor] { [userTable, itemTable] + layers.flatMap { [$0.weight, $0.bias] } }

    init(_ configuration: RatingMLP.Configuration, users: Int, items: Int, ratings: [Float], seed: UInt64) {
        var rng = SplitMix64(seed: seed).derived("rating-mlp")
        let d = configuration.embedding
        userTable = Initializer.normal([max(1, users), d], std: 0.1, rng: &rng)
        itemTable = Initializer.normal([max(1, items), d], std: 0.1, rng: &rng)
        var width = 2 * d
        var layers: [(Tensor, Tensor)] = []
        for size in configuration.hidden + [1] {
            layers.append((Initializer.normal([width, size], std: (2 / Float(width + size)).squareRoot(), rng: &rng), Tensor.zeros([size], requiresGrad: true)))
            width = size
        }
        self.layers = layers
        mean = Float(ratings.reduce(0.0) { $0 + Double($1) } / Double(max(1, ratings.count)))
        range = (ratings.min() ?? 1)...(ratings.max() ?? 5)
    }

    /// `[B, 1]`: μ plus the MLP's output for the pairs.
    func forward(users: [Int32], items: [Int32]) -> Tensor {
        var h = Tensor.concat([userTable.gather(rows: users), itemTable.gather(rows: items)], axis: 1)
        for (index, layer) in layers.enumerated() {
            h = index < layers.count - 1 ? h.linearReLU(layer.weight, layer.bias) : h.linear(layer.weight, layer.bias)
        }
        return h + mean
    }

    func predict(users: [Int32], items: [Int32]) -> [Float] {
        guard !users.isEmpty else { return [] }
        // A pair naming a user or item the tables do not hold gets the training mean.
        let (userRows, itemRows) = (Int32(userTable.shape[0]), Int32(itemTable.shape[0]))
        let known = zip(users, items).map { (0..<userRows).contains($0) && (0..<itemRows).contains($1) }
        let values = Tensor.noGrad {
            forward(users: zip(users, known).map { $1 ? $0 : 0 }, items: zip(items, known).map { $1 ? $0 : 0 }).data
        }
        return zip(values, known).map { value, known in known ? min(range.upperBound, max(range.lowerBound, value)) : mean }
    }

    /// Shuffled batches (seeded), the mean squared error, Adam; the epoch with the lowest
    /// validation RMSE is kept when there are validation ratings.
    func train(on data: TrainingSet, configuration: RatingMLP.Configuration, context: TrainingContext) throws {
        let adam = Adam(parameters: parameters, learningRate: Float(configuration.learningRate), weightDecay: Float(configuration.weightDecay), decoupledWeightDecay: true)
        var rng = SplitMix64(seed: context.seed).derived("rating-mlp-train")
        var order = Array(data.interactions.indices)
        var stopping = EarlyStopping<[[Float]]>(patience: configuration.patience, metric: "-rmse")
        for epoch in 1...max(1, configuration.epochs) where configuration.epochs > 0 {
            order.shuffle(using: &rng)
            var total = 0.0
            for start in stride(from: 0, to: order.count, by: configuration.batchSize) {
                let batch = order[start..<min(order.count, start + configuration.batchSize)].map { data.interactions[$0] }
                let predicted = forward(users: batch.map(\.user), items: batch.map(\.item))
                let error = predicted - Tensor(shape: [batch.count, 1], data: batch.map(\.rating))
                let loss = (error * error).mean()
                adam.zeroGrad()
                loss.backward()
                adam.update()
                total += Double(loss.item) * Double(batch.count)
            }
            let trainingError = total / Double(order.count)
            guard trainingError.isFinite else { throw RecError(.plugin, "rating_mlp diverged at epoch \(epoch); lower learning_rate") }
            context.report(.epochEnd(epoch: epoch, of: configuration.epochs, loss: trainingError))
            guard !data.validation.isEmpty else { continue }
            let predictions = predict(users: data.validation.map(\.user), items: data.validation.map(\.item))
            let rmse = (zip(predictions, data.validation).reduce(0.0) { $0 + pow(Double($1.0 - $1.1.rating), 2) } / Double(predictions.count)).squareRoot()
            context.report(.validation(epoch: epoch, metric: "rmse", value: rmse))
            if stopping.record(-rmse, epoch: epoch, snapshot: { parameters.map(\.data) }) {
                context.report(.message(stopping.stopMessage))
                break
            }
        }
        if let best = stopping.best { for (tensor, values) in zip(parameters, best.snapshot) { tensor.data = values } }
    }
}
