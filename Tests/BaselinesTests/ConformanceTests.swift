import Foundation
import RecCore
import RecTesting
import Testing
@testable import Baselines

/// A retriever that draws its scores from the system generator: it ignores its seed.
struct SeedIgnoringRetriever: Retriever {
    struct Configuration: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey, CaseIterable { case none }
        init() {}
        init(from decoder: any Decoder) throws { _ = try decoder.container(keyedBy: CodingKeys.self) }
        func encode(to encoder: any Encoder) throws { _ = encoder.container(keyedBy: CodingKeys.self) }
    }
    static let kind = "seed-ignoring"
    static let summary = "broken on purpose"
    let configuration: Configuration
    init(configuration: Configuration, context: ComponentContext) throws { self.configuration = configuration }
    func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        var rng = SystemRandomNumberGenerator()
        for index in scores.indices { scores[index] = Float.random(in: 0..<1, using: &rng) }
    }
}

/// A scorer whose "probabilities" exceed 1 and which accepts any configuration key.
struct OverconfidentScorer: Scorer {
    typealias Configuration = AnyKeysConfiguration
    static let kind = "overconfident"
    static let summary = "broken on purpose"
    let configuration: Configuration
    var predicts: PredictionKind { .probability }
    init(configuration: Configuration, context: ComponentContext) throws { self.configuration = configuration }
    func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] { users.map { _ in 1.5 } }
}

struct ConformanceTests {
    @Test func baselinesConform() throws {
        try Conformance.retriever(Popularity.self)
        try Conformance.retriever(ItemKNN.self)
        try Conformance.retriever(EASE.self)
        try Conformance.retriever(BPRMF.self) { seed in
            var configuration = BPRMF.Configuration()
            configuration.factors = 16
            configuration.epochs = 20
            return try BPRMF(configuration: configuration, context: ComponentContext(seed: seed))
        }
    }

    @Test func aRetrieverThatIgnoresItsSeedFails() {
        let failure = #expect(throws: ConformanceFailure.self) { try Conformance.retriever(SeedIgnoringRetriever.self) }
        #expect(failure?.problems.contains { $0.contains("does it ignore its seed?") } == true, "\(String(describing: failure))")
    }

    @Test func aScorerWithBadProbabilitiesAndLaxKeysFails() {
        let failure = #expect(throws: ConformanceFailure.self) { try Conformance.scorer(OverconfidentScorer.self) }
        let problems = failure?.problems ?? []
        #expect(problems.contains("a probability outside [0, 1]"), "\(problems)")
        #expect(problems.contains("an unknown configuration key was accepted"), "\(problems)")
        #expect(problems.contains { $0.hasPrefix("AUC 0.500") }, "\(problems)")
    }
}
