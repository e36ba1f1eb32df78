import Foundation
import RecCore
import RecSpec
import RecTesting
import Testing

@testable import LLMRec

func ctrRetriever(_ yaml: String) throws -> CTRRetriever.Configuration {
    try NodeDecoder().decode(CTRRetriever.Configuration.self, from: try YAMLParser.parse(yaml, file: "ctr.yaml"), path: [])
}

struct CTRRetrieverTests {
    static let small = "type: dcnv2, cross_layers: 1, embedding: 8, mlp: [16], epochs: 6, batch_size: 64, learning_rate: 0.01, schedule: constant, fields: [user_id, item_id]"

    /// With and without the text field: finite, seeded, better than random on the clustered
    /// fixture, and restored exactly from a checkpoint.
    @Test(arguments: [true, false])
    func conforms(_ text: Bool) throws {
        let configuration = try ctrRetriever("{ backbone: { \(Self.small) }, text: \(text) }")
        try Conformance.retriever(CTRRetriever.self, make: { try CTRRetriever(configuration: configuration, context: ComponentContext(seed: $0)) }) {
            $0.itemVectors = clusterVectors($0)
        }
        let split = try Fixtures.clusteredDataset(users: 40, items: 30).split(.leaveOneOut)
        var training = split.trainingSet
        training.itemVectors = clusterVectors(training)
        var model = try CTRRetriever(configuration: configuration, context: ComponentContext(seed: 1))
        try model.fit(training, context: TrainingContext(seed: 1))
        var restored = try CTRRetriever(configuration: configuration, context: ComponentContext(seed: 2))
        try restored.restore(from: try model.checkpoint())
        var a = [Float](repeating: 0, count: 2 * 30), b = a
        try a.withUnsafeMutableBufferPointer { try model.score(users: [0, 1], history: split.trainHistory, into: $0) }
        try b.withUnsafeMutableBufferPointer { try restored.score(users: [0, 1], history: split.trainHistory, into: $0) }
        #expect(a == b)
    }

    @Test func aBackboneWithABehaviourSequenceIsRefused() {
        do {
            _ = try ctrRetriever("{ backbone: { type: din } }")
            Issue.record("din was accepted")
        } catch { #expect("\(error)".contains("without a behaviour sequence") && "\(error)".contains("ctr.yaml:1:"), "\(error)") }
    }
}
