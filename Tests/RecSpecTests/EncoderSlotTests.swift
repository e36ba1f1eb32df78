import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecSpec
import RecStore
import RecTesting
import Testing

/// A scorer that predicts from the item vectors the pipeline's encoder made (their first
/// component, squashed into a probability) and records what it was given.
final class VectorRecorder: @unchecked Sendable {
    static let shared = VectorRecorder()
    var counts: [Int] = []
}

struct VectorScorer: Scorer, Trainable {
    struct Configuration: Codable, Sendable, Equatable {}
    static let kind = "test.vectors"
    static let summary = "reads TrainingSet.itemVectors"
    let configuration = Configuration()
    var predicts: PredictionKind { .probability }
    var vectors: [[Float]] = []
    init(configuration: Configuration, context: ComponentContext) throws {}
    mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard data.itemVectors.count == data.itemCount else { throw RecError(.plugin, "expected a vector per item, got \(data.itemVectors.count)") }
        vectors = data.itemVectors
        VectorRecorder.shared.counts.append(vectors.count)
    }
    func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        items.map { 1 / (1 + exp(-vectors[Int($0)][0])) }
    }
}

@Suite(.serialized) struct EncoderSlotTests {
    func write(_ text: String) throws -> String {
        let path = Fixtures.temporaryDirectory("encoder-slot") + "/spec.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let spec = """
        name: enc
        data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole, label: rating > 3, split: { method: user } }
        evaluation: { protocol: ctr, metrics: [auc] }
        seeds: [1, 2]
        pipelines:
          vectors:
            encoder: { type: hashing-tfidf, dimension: 64 }
            encode_fields: [title, genres]
            scorer: { type: test.vectors }
        """

    @Test func theEncoderRunsBeforeFitAndItsVectorsAreCached() throws {
        var registry = try makeRegistry()
        try registry.register(VectorScorer.self)
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(Self.spec)), registry: registry)
        #expect(plan.cells.allSatisfy { $0.configJSON.contains("\"encoder\":{\"type\":\"hashing-tfidf\"") })
        let store = try ResultStore(path: Fixtures.temporaryDirectory("encoder-slot") + "/r.sqlite")
        let runner = Runner(registry: registry, store: store, data: DataStage(catalog: DataCatalog(root: Fixtures.directory)), progress: ProgressReporter(quiet: true))
        VectorRecorder.shared.counts = []
        let summary = try runner.run(plan, cells: plan.cells)
        #expect(summary.failed.isEmpty, "\(summary.failed)")
        #expect(summary.ran == 2)
        #expect(VectorRecorder.shared.counts == [50, 50], "one vector per item of the tiny catalogue, for each seed")
    }

    @Test func anEncoderSlotNamingARetrieverIsALocatedError() throws {
        let text = Self.spec.replacingOccurrences(of: "encoder: { type: hashing-tfidf, dimension: 64 }", with: "encoder: { type: popularity }")
        var registry = try makeRegistry()
        try registry.register(VectorScorer.self)
        let error = #expect(throws: RecError.self) { _ = try ExperimentPlan(try SpecLoader.load(path: try write(text)), registry: registry) }
        #expect(
            error?.description.contains("pipelines.vectors.encoder.type: 'popularity' is a retriever, not an encoder; encoder kinds: hashing-tfidf, minilm") == true, "\(String(describing: error))")
        #expect(error?.location?.line == 7)
    }
}
