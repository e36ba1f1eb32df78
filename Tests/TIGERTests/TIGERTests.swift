import Foundation
import RecCore
import RecSpec
import RecTensor
import Testing

@testable import TIGER

/// An artifact store in memory (what the results database is to a run).
final class MemoryArtifacts: ArtifactStore, @unchecked Sendable {
    let lock = NSLock()
    var values: [String: [UInt8]] = [:]
    func artifact(_ key: String) throws -> [UInt8]? { lock.withLock { values[key] } }
    func putArtifact(_ key: String, kind: String, data: [UInt8]) throws { lock.withLock { values[key] = data } }
}

/// 12 items with IDs of two levels of 3 codes (some colliding), users who walk the items in a
/// cycle (item i, then i + 1).
func cyclicData(users: Int = 60, items: Int = 12) -> TrainingSet {
    var data = TrainingSet(
        userCount: users, itemCount: items, interactions: [],
        history: (0..<users).map { user in (0..<6).map { Int32((user + $0) % items) } })
    let quantised = (0..<items).map { [Int32($0 % 3), Int32(($0 / 3) % 3)] }
    data.derived.semanticIDs = SemanticIDs(codes: SemanticIDs.disambiguated(quantised), levels: 2, codebookSize: 3, quantiser: "test")
    return data
}

func tiger(_ yaml: String, artifacts: (any ArtifactStore)? = nil) throws -> TIGER {
    let base = "{ d_model: 16, heads: 2, head_width: 8, feed_forward: 32, encoder_layers: 1, decoder_layers: 1, history: 4, user_tokens: 8, batch_size: 32, learning_rate: 0.01"
    let configuration = try NodeDecoder().decode(TIGER.Configuration.self, from: try YAMLParser.parse(base + (yaml.isEmpty ? "" : ", " + yaml) + " }", file: "tiger.yaml"), path: [])
    return try TIGER(configuration: configuration, context: ComponentContext(seed: 1, artifacts: artifacts))
}

struct TIGERTests {
    /// With a beam as wide as the catalogue, beam search ranks every item exactly as scoring
    /// each full ID does; with a narrower beam it returns only valid, distinct items.
    @Test func beamSearchEqualsExhaustiveSearchAndEmitsOnlyValidIDs() throws {
        let data = cyclicData()
        let vocabulary = SemanticVocabulary(ids: data.derived.semanticIDs!, userBuckets: 8)
        var rng = SplitMix64(seed: 4)
        let model = TIGERModel(
            .init(vocabulary: vocabulary.size, dModel: 16, heads: 2, headWidth: 8, feedForward: 32, encoderLayers: 1, decoderLayers: 2, encoderLength: 13, decoderLength: 3),
            rng: &rng)
        for user in 0..<5 as Range<Int32> {
            let tokens = vocabulary.encoderTokens(user: user, items: [3, 4, 5], length: 13)
            let beam = ConstrainedBeamSearch.search(model, vocabulary: vocabulary, encoderTokens: tokens, width: 12)
            let all = ConstrainedBeamSearch.exhaustive(model, vocabulary: vocabulary, encoderTokens: tokens).sorted { $0.logProbability > $1.logProbability }
            #expect(beam.map(\.item) == all.map(\.item))
            for (a, b) in zip(beam, all) { #expect(abs(a.logProbability - b.logProbability) < 1e-4) }
            // Probabilities over the valid IDs sum to at most 1.
            #expect(all.reduce(0.0) { $0 + exp($1.logProbability) } <= 1 + 1e-6)
            for width in [1, 3, 5] {
                let narrow = ConstrainedBeamSearch.search(model, vocabulary: vocabulary, encoderTokens: tokens, width: width)
                #expect(narrow.count == width && Set(narrow.map(\.item)).count == width && narrow.allSatisfy { (0..<12).contains($0.item) })
            }
        }
        // The trie allows exactly the codes some item has after each prefix.
        #expect(vocabulary.allowed(after: []).count == 3)
        #expect(vocabulary.allowed(after: [99]).isEmpty)
        #expect(vocabulary.item(vocabulary.itemTokens[7]) == 7)
    }

    /// On users who walk the catalogue in a cycle, the trained model puts the next item first.
    @Test func learnsTheNextItem() throws {
        let data = cyclicData()
        var model = try tiger("epochs: 40, dropout: 0")
        try model.fit(data, context: TrainingContext(seed: 1))
        var hits = 0
        for start in 0..<12 {
            let history = (0..<4).map { Int32((start + $0) % 12) }
            let top = try model.retrieve(user: Int32(start), history: history, count: 3)
            #expect(top.count == 3 && Set(top.map(\.item)).count == 3)
            if top[0].item == Int32((start + 4) % 12) { hits += 1 }
        }
        #expect(hits >= 10, "\(hits) of 12")
        // A restored checkpoint retrieves the same lists.
        var restored = try tiger("epochs: 40, dropout: 0")
        try restored.restore(from: try model.checkpoint())
        for user in 0..<4 as Range<Int32> {
            #expect(try restored.retrieve(user: user, history: [1, 2, 3], count: 5) == model.retrieve(user: user, history: [1, 2, 3], count: 5))
        }
    }

    /// Training stopped after 2 epochs and asked again for 4 continues from epoch 3 and ends
    /// with the same parameters as 4 epochs straight.
    @Test func trainingResumesWhereItStopped() throws {
        let data = cyclicData()
        var straight = try tiger("epochs: 4, dropout: 0.1")
        try straight.fit(data, context: TrainingContext(seed: 1))
        let store = MemoryArtifacts()
        var first = try tiger("epochs: 2, dropout: 0.1", artifacts: store)
        try first.fit(data, context: TrainingContext(seed: 1))
        let messages = Locked<[String]>([])
        var resumed = try tiger("epochs: 4, dropout: 0.1", artifacts: store)
        try resumed.fit(data, context: TrainingContext(seed: 1) { if case .message(let text) = $0 { messages.update { $0.append(text) } } })
        #expect(messages.get().contains("tiger: resuming after epoch 2 of 4"), "\(messages.get())")
        #expect(try resumed.checkpoint() == straight.checkpoint())
        // Progress past the epochs asked for is not used: 1 epoch after 4 stored is 1 epoch.
        var one = try tiger("epochs: 1, dropout: 0.1", artifacts: store)
        try one.fit(data, context: TrainingContext(seed: 1))
        var straightOne = try tiger("epochs: 1, dropout: 0.1")
        try straightOne.fit(data, context: TrainingContext(seed: 1))
        #expect(try one.checkpoint() == straightOne.checkpoint())
        // A damaged progress record is set aside: training starts over and ends as a straight run.
        for key in store.values.keys { store.values[key] = Array(store.values[key]!.prefix(100)) }
        messages.set([])
        var restarted = try tiger("epochs: 4, dropout: 0.1", artifacts: store)
        try restarted.fit(data, context: TrainingContext(seed: 1) { if case .message(let text) = $0 { messages.update { $0.append(text) } } })
        #expect(messages.get().contains { $0.contains("the stored training progress is unusable") }, "\(messages.get())")
        #expect(try restarted.checkpoint() == straight.checkpoint())
    }

    @Test func missingSemanticIDsAreAClearError() throws {
        var data = cyclicData()
        data.derived.semanticIDs = nil
        var model = try tiger("epochs: 1")
        do {
            try model.fit(data, context: TrainingContext(seed: 1))
            Issue.record("trained without semantic IDs")
        } catch { #expect("\(error)".contains("tiger.semantic_ids"), "\(error)") }
        #expect(throws: RecError.self) { try model.retrieve(user: 0, history: [1], count: 3) }
    }
}
