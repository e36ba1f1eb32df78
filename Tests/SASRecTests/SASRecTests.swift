import Foundation
import RecCore
import RecData
import RecEval
import RecTensor
import RecTesting
import Testing

@testable import SASRec

func tinyConfiguration(loss: String = "ce", epochs: Int = 6) -> SASRec.Configuration {
    var c = SASRec.Configuration()
    c.hiddenSize = 16
    c.innerSize = 32
    c.layers = 1
    c.heads = 2
    c.maxLength = 12
    c.dropout = 0.1
    c.attentionDropout = 0.1
    c.loss = loss
    c.learningRate = 0.01
    c.batchSize = 64
    c.epochs = epochs
    return c
}

/// Test NDCG@10 on the clustered fixture (full ranking) and the per-user values.
func evaluate(_ model: SASRec, _ split: SplitData) throws -> (Double, [Double]) {
    let evaluator = RankingEvaluator(metrics: ["ndcg"], cutoffs: [10], protocol: .full)
    let history = split.historyBeforeTest
    let result = try evaluator.evaluate(.test(split)) { users, out in try model.score(users: users, history: history, into: out) }
    return (result.aggregate[MetricKey("ndcg", 10)]!, result.perUser[MetricKey("ndcg", 10)]!)
}

struct SASRecTests {
    let split = try! Fixtures.clusteredDataset(users: 120, items: 60).split(.leaveOneOut)

    @Test func learnsTheClustersWithFullSoftmax() throws {
        var model = try SASRec(configuration: tinyConfiguration(), context: ComponentContext(seed: 3))
        let log = EventLog()
        try model.fit(split.trainingSet, context: log.context(seed: 3))
        let losses = log.losses
        #expect(losses.count == 6 && losses.last! < losses.first!, "\(losses)")
        let (ndcg, _) = try evaluate(model, split)
        var untrained = try SASRec(configuration: tinyConfiguration(epochs: 0), context: ComponentContext(seed: 3))
        try untrained.fit(split.trainingSet, context: TrainingContext(seed: 3))
        let (baseline, _) = try evaluate(untrained, split)
        #expect(ndcg > 0.2 && ndcg > baseline + 0.1, "trained \(ndcg), untrained \(baseline)")
    }

    @Test func learnsWithSampledNegativesAndBCE() throws {
        var model = try SASRec(configuration: tinyConfiguration(loss: "bce", epochs: 30), context: ComponentContext(seed: 3))
        try model.fit(split.trainingSet, context: TrainingContext(seed: 3))
        #expect(try evaluate(model, split).0 > 0.15)
    }

    @Test func seededAndCheckpointed() throws {
        var a = try SASRec(configuration: tinyConfiguration(epochs: 2), context: ComponentContext(seed: 9))
        var b = try SASRec(configuration: tinyConfiguration(epochs: 2), context: ComponentContext(seed: 9))
        try a.fit(split.trainingSet, context: TrainingContext(seed: 9))
        try b.fit(split.trainingSet, context: TrainingContext(seed: 9))
        let scoresA = try evaluate(a, split).1, scoresB = try evaluate(b, split).1
        #expect(scoresA == scoresB)
        var restored = try SASRec(configuration: tinyConfiguration(epochs: 2), context: ComponentContext(seed: 1))
        try restored.restore(from: try a.checkpoint())
        let restoredScores = try evaluate(restored, split).1
        #expect(restoredScores == scoresA)
        #expect(throws: RecError.self) { try restored.restore(from: [0, 1, 2]) }
    }

    /// Weights from another tool: the item rows in a foreign order, named by `item_ids`.
    @Test func initialWeightsAreReorderedByTheirItemIDs() throws {
        var trained = try SASRec(configuration: tinyConfiguration(epochs: 2), context: ComponentContext(seed: 9))
        try trained.fit(split.trainingSet, context: TrainingContext(seed: 9))
        let expected = try evaluate(trained, split).1
        var tensors = try Safetensors.decode(try trained.checkpoint())
        let ids = split.trainingSet.itemIDs, width = tensors["item_embedding"]!.shape[1]
        #expect(ids.count == 60)
        // The file lists the items in reverse: its row r + 1 holds dataset item 59 - r.
        let table = tensors["item_embedding"]!.data
        var reversed = Array(table[0..<width])
        for item in (0..<60).reversed() { reversed += table[((item + 1) * width)..<((item + 2) * width)] }
        tensors["item_embedding"] = Tensor(shape: [61, width], data: reversed)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sasrec-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("w.safetensors").path
        let idsJSON = String(decoding: try JSONEncoder().encode(Array(ids.reversed())), as: UTF8.self)
        try Safetensors.save(tensors, to: path, metadata: ["item_ids": idsJSON])

        var c = tinyConfiguration(epochs: 0)
        c.initialWeights = path
        var loaded = try SASRec(configuration: c, context: ComponentContext(seed: 1))
        try loaded.fit(split.trainingSet, context: TrainingContext(seed: 1))
        #expect(try evaluate(loaded, split).1 == expected)

        // Read in file order instead, the rows name the wrong items and the scores change.
        try Safetensors.save(tensors, to: path)
        var unmapped = try SASRec(configuration: c, context: ComponentContext(seed: 1))
        try unmapped.fit(split.trainingSet, context: TrainingContext(seed: 1))
        #expect(try evaluate(unmapped, split).1 != expected)

        try Safetensors.save(tensors, to: path, metadata: ["item_ids": "[\"only-one\"]"])
        var mismatched = try SASRec(configuration: c, context: ComponentContext(seed: 1))
        #expect(throws: RecError.self) { try mismatched.fit(split.trainingSet, context: TrainingContext(seed: 1)) }
    }

    @Test func earlyStoppingKeepsTheBestEpoch() throws {
        var c = tinyConfiguration(epochs: 40)
        c.patience = 2
        var model = try SASRec(configuration: c, context: ComponentContext(seed: 3))
        let log = EventLog()
        try model.fit(split.trainingSet, context: log.context(seed: 3))
        let messages = log.messages, epochs = log.losses.count, validations = log.validations
        #expect(validations.first?.epoch == 1 && validations.first?.metric == "ndcg@10")
        #expect(validations.map(\.epoch) == Array(1...epochs))
        if epochs < 40 { #expect(messages.last?.hasPrefix("early stop: best validation ndcg@10") == true) }
        // The kept weights are the best epoch's: validating again gives the best value reported.
        let best = validations.map(\.value).max()!
        let again = try model.validationNDCG(split.trainingSet)
        #expect(abs(again - best) < 1e-4)
    }

    @Test func trimmedLastBlockEqualsTheFullOutput() throws {
        let sasrec = try SASRec(configuration: tinyConfiguration(), context: ComponentContext(seed: 3))
        let model = sasrec.makeModel(items: 60)
        var rng = SplitMix64(seed: 0)
        let encoded = [[Int32]([3, 9, 4]), [7], Array(1...30)].map { model.tokens(for: $0[...]) }
        let trimmed = model.lastHidden(encoded.map(\.0), lengths: encoded.map(\.1), training: false, rng: &rng)
        let full = model.encode(encoded.map(\.0), training: false, rng: &rng)
        let h = 16, l = 12
        for (row, length) in encoded.map(\.1).enumerated() {
            let expected = full.data[((row * l + length - 1) * h)..<((row * l + length) * h)]
            for (a, b) in zip(trimmed.data[(row * h)..<((row + 1) * h)], expected) { #expect(abs(a - b) < 1e-5) }
        }
    }

    @Test func emptyHistoriesAndConfigurationChecks() throws {
        var model = try SASRec(configuration: tinyConfiguration(epochs: 1), context: ComponentContext(seed: 3))
        try model.fit(split.trainingSet, context: TrainingContext(seed: 3))
        var scores = [Float](repeating: .nan, count: 60)
        try scores.withUnsafeMutableBufferPointer { try model.score(users: [0], history: [[]], into: $0) }
        #expect(scores.allSatisfy { $0.isFinite })
        let unfitted = try SASRec(configuration: tinyConfiguration(), context: ComponentContext(seed: 3))
        #expect(throws: RecError.self) { try scores.withUnsafeMutableBufferPointer { try unfitted.score(users: [0], history: [[1]], into: $0) } }
    }
}

@Suite struct SASRecConformanceTests {
    @Test func sasrecConforms() throws {
        try Conformance.retriever(SASRec.self) { try SASRec(configuration: tinyConfiguration(), context: ComponentContext(seed: $0)) }
    }
}
