import Foundation
import RecCore
import RecTensor

/// The tensors of `RatingMLP` and how they train and predict (see there for the shapes).
final class RatingMLPNetwork: @unchecked Sendable {
    /// `[U, D]` and `[I, D]`, N(0, 0.1²).
    let userTable: Tensor, itemTable: Tensor
    let head: RatingHead

    var parameters: [Tensor] { [userTable, itemTable] + head.parameters }

    init(_ configuration: RatingMLP.Configuration, users: Int, items: Int, ratings: [Interaction], seed: UInt64) {
        var rng = SplitMix64(seed: seed).derived("rating-mlp")
        let d = configuration.embedding
        userTable = Initializer.normal([max(1, users), d], std: 0.1, rng: &rng)
        itemTable = Initializer.normal([max(1, items), d], std: 0.1, rng: &rng)
        head = RatingHead(inputs: 2 * d, hidden: configuration.hidden, ratings: ratings, rng: &rng)
    }

    /// `[B, 1]`: μ plus the MLP's output for the pairs.
    func forward(users: [Int32], items: [Int32]) -> Tensor {
        head(Tensor.concat([userTable.gather(rows: users), itemTable.gather(rows: items)], axis: 1))
    }

    func predict(users: [Int32], items: [Int32]) -> [Float] {
        guard !users.isEmpty else { return [] }
        // A pair naming a user or item the tables do not hold gets the training mean.
        let (userRows, itemRows) = (Int32(userTable.shape[0]), Int32(itemTable.shape[0]))
        let known = zip(users, items).map { (0..<userRows).contains($0) && (0..<itemRows).contains($1) }
        let values = Tensor.noGrad {
            forward(users: zip(users, known).map { $1 ? $0 : 0 }, items: zip(items, known).map { $1 ? $0 : 0 }).data
        }
        return zip(values, known).map { value, known in known ? head.clipped(value) : head.mean }
    }

    /// `SquaredErrorTraining` with Adam (decoupled weight decay).
    func train(on data: TrainingSet, configuration: RatingMLP.Configuration, context: TrainingContext) throws {
        let adam = Adam(parameters: parameters, learningRate: Float(configuration.learningRate), weightDecay: Float(configuration.weightDecay), decoupledWeightDecay: true)
        let training = SquaredErrorTraining(name: RatingMLP.kind, epochs: configuration.epochs, batchSize: configuration.batchSize, patience: configuration.patience)
        try training.run(data, parameters: parameters, optimiser: adam, context: context) { indices in
            forward(users: indices.map { data.interactions[$0].user }, items: indices.map { data.interactions[$0].item })
        } validate: {
            predict(users: data.validation.map(\.user), items: data.validation.map(\.item))
        }
    }
}
