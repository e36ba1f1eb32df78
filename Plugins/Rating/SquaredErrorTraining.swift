import Foundation
import RecCore
import RecTensor

/// How the neural rating baselines train: every training rating once per epoch in seeded
/// shuffled batches, the mean squared error, one Adam step per batch; where the split has
/// validation ratings, the epoch with the lowest validation RMSE is kept and training stops
/// after `patience` epochs without a better one.
struct SquaredErrorTraining {
    /// The scorer's name, for errors.
    var name: String
    var epochs: Int, batchSize: Int, patience: Int

    /// - Parameters:
    ///   - forward: `[B, 1]` predictions for the training ratings at these indices.
    ///   - validate: predictions for `data.validation`, in order.
    func run(
        _ data: TrainingSet, parameters: [Tensor], optimiser: Adam, context: TrainingContext, forward: ([Int]) -> Tensor, validate: () -> [Float]
    ) throws {
        var rng = SplitMix64(seed: context.seed).derived("\(name)-train")
        var order = Array(data.interactions.indices)
        var stopping = EarlyStopping<[[Float]]>(patience: patience, metric: "rmse", higherIsBetter: false)
        for epoch in 1...max(1, epochs) where epochs > 0 {
            order.shuffle(using: &rng)
            var total = 0.0
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let indices = Array(order[start..<min(order.count, start + batchSize)])
                let error = forward(indices) - Tensor(shape: [indices.count, 1], data: indices.map { data.interactions[$0].rating })
                let loss = (error * error).mean()
                optimiser.zeroGrad()
                loss.backward()
                optimiser.update()
                total += Double(loss.item) * Double(indices.count)
            }
            let trainingError = total / Double(order.count)
            guard trainingError.isFinite else { throw RecError(.plugin, "\(name) diverged at epoch \(epoch); lower learning_rate") }
            context.report(.epochEnd(epoch: epoch, of: epochs, loss: trainingError))
            guard !data.validation.isEmpty else { continue }
            let rmse = Self.rmse(validate(), data.validation)
            context.report(.validation(epoch: epoch, metric: "rmse", value: rmse))
            if stopping.record(rmse, epoch: epoch, snapshot: { parameters.map(\.data) }) {
                context.report(.message(stopping.stopMessage))
                break
            }
        }
        if let best = stopping.best { for (tensor, values) in zip(parameters, best.snapshot) { tensor.data = values } }
    }

    static func rmse(_ predictions: [Float], _ truth: [Interaction]) -> Double {
        (zip(predictions, truth).reduce(0.0) { $0 + pow(Double($1.0 - $1.1.rating), 2) } / Double(max(1, truth.count))).squareRoot()
    }
}
