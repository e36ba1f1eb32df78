import Foundation
import RecCore
import RecSpec
import RecTensor
import RecTesting
import Testing

@testable import LLMRec

func textMLP(_ yaml: String) throws -> TextMLP.Configuration {
    try NodeDecoder().decode(TextMLP.Configuration.self, from: try YAMLParser.parse(yaml, file: "mlp.yaml"), path: [])
}

/// Seeded random text vectors that carry each item's cluster, as an encoder's would.
func clusterVectors(_ data: TrainingSet, clusters: Int = 4, seed: UInt64 = 3) -> [[Float]] {
    var rng = SplitMix64(seed: seed)
    let block = (data.itemCount + clusters - 1) / clusters
    return (0..<data.itemCount).map { item in (0..<8).map { d in (d == item / block ? 1 : 0) + Float(rng.nextGaussian()) * 0.2 } }
}

struct TextMLPTests {
    /// Conformance for each user and item representation: finite scores, seeded, and better
    /// than random on the clustered fixture.
    @Test(arguments: ["{ user: id, item: text }", "{ user: history, item: text }", "{ user: id, item: id }", "{ user: history, item: id }"])
    func conforms(_ yaml: String) throws {
        try Conformance.retriever(
            TextMLP.self,
            make: { try TextMLP(configuration: try textMLP(String(yaml.dropLast()) + ", epochs: 10, batch_size: 64, learning_rate: 0.01, hidden: [16] }"), context: ComponentContext(seed: $0)) }
        ) {
            $0.itemVectors = clusterVectors($0)
        }
    }

    /// A restored model scores exactly as the trained one; another configuration is refused.
    @Test func checkpointRestoresTheSameScores() throws {
        let split = try Fixtures.clusteredDataset(users: 40, items: 30).split(.leaveOneOut)
        var training = split.trainingSet
        training.itemVectors = clusterVectors(training)
        let configuration = try textMLP("{ user: history, epochs: 2, hidden: [8, 4] }")
        var model = try TextMLP(configuration: configuration, context: ComponentContext(seed: 1))
        try model.fit(training, context: TrainingContext(seed: 1))
        var restored = try TextMLP(configuration: configuration, context: ComponentContext(seed: 2))
        try restored.restore(from: try model.checkpoint())
        var a = [Float](repeating: 0, count: 3 * 30), b = a
        try a.withUnsafeMutableBufferPointer { try model.score(users: [0, 1, 2], history: split.trainHistory, into: $0) }
        try b.withUnsafeMutableBufferPointer { try restored.score(users: [0, 1, 2], history: split.trainHistory, into: $0) }
        #expect(a == b)
        var other = try TextMLP(configuration: try textMLP("{ user: id, epochs: 2, hidden: [8, 4] }"), context: ComponentContext(seed: 1))
        #expect(throws: RecError.self) { try other.restore(from: try model.checkpoint()) }
    }

    /// Training's forward pass (the first layer factored by side) and scoring's (the item
    /// side's first layer once for all items) both give every item the score of the MLP over
    /// the concatenated `[user, item]`.
    @Test(arguments: ["{ user: id, item: text }", "{ user: history, item: id }"])
    func trainingAndScoringAgree(_ yaml: String) throws {
        let split = try Fixtures.clusteredDataset(users: 20, items: 30).split(.leaveOneOut)
        var training = split.trainingSet
        training.itemVectors = clusterVectors(training)
        let configuration = try textMLP(String(yaml.dropLast()) + ", epochs: 2, batch_size: 16, hidden: [8, 4] }")
        let network = TextMLPNetwork(
            configuration, users: training.userCount, items: training.itemCount, itemVectors: training.itemVectors.flatMap { $0 }, vectorWidth: 8, seed: 1)
        try network.train(on: training, configuration: configuration, context: TrainingContext(seed: 1))
        let items = (0..<Int32(training.itemCount)).map { $0 }
        var scores = [Float](repeating: 0, count: 2 * items.count)
        scores.withUnsafeMutableBufferPointer { network.score(users: [0, 3], history: training.history, into: $0) }
        for (row, user) in [Int32(0), 3].enumerated() {
            let (logits, reference) = Tensor.noGrad {
                let (u, v) = (network.users([Int32](repeating: user, count: items.count), history: training.history), network.items(items))
                var h = Tensor.concat([u, v], axis: 1)
                for (index, layer) in network.layers.enumerated() { h = index == 0 ? h.linear(layer.weight, layer.bias) : h.relu().linear(layer.weight, layer.bias) }
                return (network.logits(u, v).data, h.data)
            }
            for item in items.indices {
                #expect(abs(logits[item] - reference[item]) < 1e-5, "training, user \(user), item \(item)")
                #expect(abs(scores[row * items.count + item] - reference[item]) < 1e-5, "scoring, user \(user), item \(item)")
            }
        }
    }

    @Test func badSettingsAreRefused() {
        for (yaml, key) in [("{ user: text }", "user"), ("{ item: history }", "item"), ("{ hidden: [] }", "hidden")] {
            #expect(throws: RecError.self, "\(yaml)") { _ = try textMLP(yaml) }
            do { _ = try textMLP(yaml) } catch { #expect("\(error)".contains(key), "\(error)") }
        }
    }
}
