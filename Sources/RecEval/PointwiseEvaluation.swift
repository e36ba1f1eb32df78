import Foundation
import RecCore

/// Test pairs for a pointwise protocol: one (user, item) per held-out interaction, with its
/// true rating and its label under the data's label rule.
public struct PointwiseTask: Sendable {
    public var users: [Int32]
    public var items: [Int32]
    public var ratings: [Float]
    /// 0 or 1 per pair (all 1 when the data has no label rule).
    public var labels: [Float]

    public init(users: [Int32], items: [Int32], ratings: [Float], labels: [Float]) {
        self.users = users
        self.items = items
        self.ratings = ratings
        self.labels = labels
    }

    /// The held-out interactions of `split` (test or validation) as pairs.
    public static func of(_ interactions: [Interaction], labelRule: LabelRule?) -> PointwiseTask {
        PointwiseTask(
            users: interactions.map(\.user), items: interactions.map(\.item), ratings: interactions.map(\.rating),
            labels: interactions.map { labelRule?.label($0) ?? 1 })
    }

    public var count: Int { users.count }

    /// The pairs of a seeded sample of `count` of their users (all pairs when `count` is 0 or at
    /// least the number of users), in their order. The users, in ascending order, are drawn by
    /// `sampledUsers` as a ranking protocol's `EvaluationTask.sampling` draws them, so every cell
    /// given the same seed sees the same users and paired tests still pair.
    public static func sampling(_ pairs: [Interaction], users count: Int, seed: UInt64) -> [Interaction] {
        let users = Array(Set(pairs.map(\.user))).sorted()
        guard let indices = sampledUsers(count, of: users.count, seed: seed) else { return pairs }
        let kept = Set(indices.map { users[$0] })
        return pairs.filter { kept.contains($0.user) }
    }
}

/// The positions, in ascending order, of the `count` of `n` users that the evaluation sample
/// with `seed` keeps (`evaluation.users`); nil when it keeps them all (`count` 0 or at least `n`).
func sampledUsers(_ count: Int, of n: Int, seed: UInt64) -> [Int]? {
    guard count > 0, count < n else { return nil }
    var rng = SplitMix64(seed: seed).derived("evaluation.users")
    var indices = Array(0..<n)
    indices.shuffle(using: &rng)
    return indices.prefix(count).sorted()
}

/// Metrics over a scorer's pointwise predictions (`ctr` and `rating` protocols).
///
/// AUC is computed over all test pairs at once, as RecBole and KAR report it; GAUC is the
/// per-user AUC weighted by each user's pairs, over users with both labels (RecBole's GAUC).
/// The per-user series kept for paired tests are each user's AUC (NaN when the user has one
/// label only), mean LogLoss, RMSE and MAE.
public struct PointwiseEvaluator: Sendable {
    public var metrics: [String]
    public var predicts: PredictionKind

    public init(metrics: [String], predicts: PredictionKind) {
        self.metrics = metrics
        self.predicts = predicts
    }

    /// - Throws: `RecError(.plugin)` for a non-finite prediction, and for a probability
    ///   outside [0, 1] when LogLoss is asked for (LogLoss of such a number means nothing).
    public func evaluate(_ task: PointwiseTask, predictions: [Float]) throws -> EvaluationResult {
        guard predictions.count == task.count else {
            throw RecError(.plugin, "the scorer returned \(predictions.count) predictions for \(task.count) pairs")
        }
        for (index, value) in predictions.enumerated() {
            guard value.isFinite else {
                throw RecError(.plugin, "the scorer predicted \(value) for user \(task.users[index]), item \(task.items[index]); predictions must be finite")
            }
            if metrics.contains("logloss"), !(0...1).contains(value) {
                throw RecError(.plugin, "the scorer predicted \(value) for user \(task.users[index]), item \(task.items[index]); LogLoss needs probabilities in [0, 1]")
            }
        }
        // Pairs grouped by user, users in ascending order.
        var byUser: [Int32: [Int]] = [:]
        for (index, user) in task.users.enumerated() { byUser[user, default: []].append(index) }
        let users = byUser.keys.sorted()
        let groups = users.map { byUser[$0]! }
        var perUser: [MetricKey: [Double]] = [:]
        var aggregate: [MetricKey: Double] = [:]
        func userAUC(_ indexes: [Int]) -> Double {
            let positives = indexes.filter { task.labels[$0] > 0.5 }.map { predictions[$0] }
            let negatives = indexes.filter { task.labels[$0] <= 0.5 }.map { predictions[$0] }
            return RankingMetrics.auc(positives: positives, negatives: negatives) ?? .nan
        }
        for metric in metrics {
            let key = MetricKey(metric)
            switch metric {
            case "auc", "gauc":
                let values = groups.map(userAUC)
                perUser[key] = values
                if metric == "auc" {
                    let all = Array(task.labels.indices)
                    aggregate[key] = userAUC(all)
                } else {
                    var weighted = 0.0, weight = 0.0
                    for (value, group) in zip(values, groups) where !value.isNaN {
                        weighted += value * Double(group.count)
                        weight += Double(group.count)
                    }
                    aggregate[key] = weight > 0 ? weighted / weight : .nan
                }
            case "logloss":
                var total = 0.0
                perUser[key] = groups.map { group in
                    let sum = group.reduce(0.0) { $0 + Self.crossEntropy(predictions[$1], label: task.labels[$1]) }
                    total += sum
                    return sum / Double(group.count)
                }
                aggregate[key] = total / Double(max(1, task.count))
            case "rmse", "mae":
                let square = metric == "rmse"
                var total = 0.0
                perUser[key] = groups.map { group in
                    let sum = group.reduce(0.0) { partial, index in
                        let error = Double(predictions[index]) - Double(task.ratings[index])
                        return partial + (square ? error * error : abs(error))
                    }
                    total += sum
                    let mean = sum / Double(group.count)
                    return square ? mean.squareRoot() : mean
                }
                let mean = total / Double(max(1, task.count))
                aggregate[key] = square ? mean.squareRoot() : mean
            default:
                throw RecError(.plugin, "metric '\(metric)' is not a pointwise metric")
            }
        }
        return EvaluationResult(users: users, perUser: perUser, aggregate: aggregate)
    }

    /// Binary cross-entropy of probability `p`, clipped to [1e-7, 1 - 1e-7] like scikit-learn.
    static func crossEntropy(_ p: Float, label: Float) -> Double {
        let clipped = min(max(Double(p), 1e-7), 1 - 1e-7)
        return label > 0.5 ? -log(clipped) : -log(1 - clipped)
    }
}
