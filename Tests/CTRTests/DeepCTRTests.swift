import Foundation
import RecCore
import RecEval
import RecSpec
import RecTensor
import RecTesting
import Testing

@testable import CTR

/// Small, fast settings for the fixtures: embeddings of 8, one hidden layer of 16, Adam at 0.01.
func smallDeep<M: DeepCTRModel>(_: M.Type, _ yaml: String = "{}", epochs: Int = 8) throws -> M.Configuration {
    let base = "{ embedding: 8, mlp: [16], epochs: \(epochs), batch_size: 64, learning_rate: 0.01, schedule: constant"
    let extra = yaml.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
    let node = try YAMLParser.parse(base + (extra.isEmpty ? "" : ", " + extra) + " }", file: "test")
    return try NodeDecoder().decode(M.Configuration.self, from: node, path: [])
}

func trainedDeep<M: DeepCTRModel>(_ type: M.Type, _ yaml: String = "{}", epochs: Int = 8, data: TrainingSet, seed: UInt64 = 1) throws -> DeepCTR<M> {
    var model = try DeepCTR<M>(configuration: try smallDeep(type, yaml, epochs: epochs), context: ComponentContext(seed: seed))
    try model.fit(data, context: TrainingContext(seed: seed))
    return model
}

@Suite struct DeepCTRTests {
    static let data = syntheticCTR()

    /// Every model learns the user-group × item-genre interaction of the fixture: validation
    /// AUC well above chance, and above logistic regression (which cannot express it).
    @Test(arguments: ["deepfm", "xdeepfm", "dcnv2", "dcnv2-low-rank", "autoint", "fibinet", "fibinet-all", "din"])
    func learnsTheInteraction(_ name: String) throws {
        let data = Self.data
        let predict: ([Interaction]) throws -> [Float]
        switch name {
        case "deepfm": let m = try trainedDeep(DeepFM.self, data: data); predict = { try m.predict($0, timeline: data.timeline) }
        case "xdeepfm": let m = try trainedDeep(XDeepFM.self, "{ cin: [8, 8] }", data: data); predict = { try m.predict($0, timeline: data.timeline) }
        case "dcnv2": let m = try trainedDeep(DCNv2.self, "{ cross_layers: 2 }", data: data); predict = { try m.predict($0, timeline: data.timeline) }
        case "dcnv2-low-rank": let m = try trainedDeep(DCNv2.self, "{ low_rank: 4 }", data: data); predict = { try m.predict($0, timeline: data.timeline) }
        case "autoint": let m = try trainedDeep(AutoInt.self, "{ attention_size: 8 }", data: data); predict = { try m.predict($0, timeline: data.timeline) }
        case "fibinet": let m = try trainedDeep(FiBiNet.self, data: data); predict = { try m.predict($0, timeline: data.timeline) }
        case "fibinet-all": let m = try trainedDeep(FiBiNet.self, "{ bilinear: all }", data: data); predict = { try m.predict($0, timeline: data.timeline) }
        default: let m = try trainedDeep(DIN.self, "{ behaviour: { length: 5 } }", data: data); predict = { try m.predict($0, timeline: data.timeline) }
        }
        let labels = data.validation.map { data.label($0) }
        let auc = try CTRTrainer.auc(predict(data.validation), labels: labels)
        var lr = try LogisticRegression(configuration: CTRConformanceTests.settings(), context: ComponentContext(seed: 1))
        try lr.fit(data, context: TrainingContext(seed: 1))
        let lrAUC = try CTRTrainer.auc(lr.predict(users: data.validation.map(\.user), items: data.validation.map(\.item), history: data.history), labels: labels)
        #expect(auc > 0.8, "\(name): validation AUC \(auc)")
        #expect(auc > lrAUC + 0.05, "\(name): \(auc) against LR's \(lrAUC)")
    }

    /// DIN reads each pair's past: the same pair scores differently after other histories, and
    /// only the last `length` interactions matter.
    @Test func dinReadsTheBehaviourSequence() throws {
        let data = Self.data
        let model = try trainedDeep(DIN.self, "{ behaviour: { length: 3 } }", data: data)
        let pair = Interaction(user: 0, item: 5, rating: 5, time: 100)
        let liked = data.interactions.filter { $0.rating > 3 }.prefix(10).map { Interaction(user: 0, item: $0.item, rating: 5, time: 50) }
        let disliked = data.interactions.filter { $0.rating <= 3 }.prefix(10).map { Interaction(user: 0, item: $0.item, rating: 1, time: 50) }
        let a = try model.predict([pair], timeline: Timeline(userCount: data.userCount, Array(liked)))
        let b = try model.predict([pair], timeline: Timeline(userCount: data.userCount, Array(disliked)))
        #expect(a != b)
        let older = Interaction(user: 0, item: 7, rating: 1, time: 1)
        let longer = try model.predict([pair], timeline: Timeline(userCount: data.userCount, [older] + Array(liked)))
        #expect(longer == a, "an interaction older than the last 3 changed the prediction")
        #expect(model.behaviourLength == 3)
        #expect(try trainedDeep(DeepFM.self, epochs: 1, data: data).behaviourLength == 0)
    }

    /// DIN's activation unit factors its first layer; it must equal the layer over the
    /// concatenated `[q, k, q − k, q ⊙ k]`.
    @Test func dinFactoredUnitLayerEqualsTheConcatenatedOne() throws {
        let data = Self.data
        let layout = try FieldLayout(fieldNames: ["user_id", "item_id", "genres"], userCount: data.userCount, itemCount: data.itemCount, users: data.userFeatures, items: data.itemFeatures)
        var rng = SplitMix64(seed: 3)
        let embedding = FieldEmbedding(layout: layout, width: 8, rng: &rng)
        let network = DINNetwork(try smallDeep(DIN.self, "{ behaviour: { length: 3 }, attention_mlp: [6] }"), embedding: embedding, rng: &rng)
        let (b, l, k) = (5, 3, network.keyWidth)
        for value in network.unit.layers[0].bias.data.indices { network.unit.layers[0].bias.data[value] = Float(rng.nextGaussian()) }
        let q = Tensor(shape: [b, k], data: (0..<b * k).map { _ in Float(rng.nextGaussian()) })
        let keys = Tensor(shape: [b * l, k], data: (0..<b * l * k).map { _ in Float(rng.nextGaussian()) })
        let rows = (0..<Int32(b)).flatMap { Array(repeating: $0, count: l) }
        let repeated = q.gather(rows: rows)
        let direct = Tensor.concat([repeated, keys, repeated - keys, repeated * keys], axis: 1).linear(network.unit.layers[0].weight, network.unit.layers[0].bias)
        let factored = network.unitFirstLayer(q, keys, rows: rows)
        #expect(factored.shape == direct.shape)
        #expect(zip(factored.data, direct.data).allSatisfy { abs($0 - $1) < 1e-4 }, "largest difference \(zip(factored.data, direct.data).map { abs($0 - $1) }.max() ?? 0)")
    }

    @Test func timelineGivesEarlierInteractionsInSplitOrder() {
        let events = [
            Interaction(user: 0, item: 1, time: 5), Interaction(user: 0, item: 2, time: 3), Interaction(user: 0, item: 3, time: 5),
            Interaction(user: 1, item: 4, time: 1),
        ]
        let timeline = Timeline(userCount: 2, events)
        #expect(timeline.events[0].map(\.item) == [2, 1, 3])
        #expect(timeline.before(events[2], limit: 10).map(\.item) == [2, 1])
        #expect(timeline.before(events[2], limit: 1).map(\.item) == [1])
        #expect(timeline.before(events[1], limit: 10).isEmpty)
        // A pair the timeline does not hold follows every earlier-timed interaction.
        #expect(timeline.before(Interaction(user: 0, item: 9, time: 4), limit: 10).map(\.item) == [2])
        #expect(timeline.before(Interaction(user: 5, item: 9, time: 4), limit: 10).isEmpty)
    }

    @Test func checkpointRestoresTheSamePredictions() throws {
        let data = Self.data
        let model = try trainedDeep(DIN.self, "{ behaviour: { length: 4 } }", epochs: 2, data: data)
        var restored = try DeepCTR<DIN>(configuration: try smallDeep(DIN.self, "{ behaviour: { length: 4 } }", epochs: 2), context: ComponentContext(seed: 9))
        let bytes = try model.checkpoint()
        try restored.restore(from: bytes)
        let timeline = data.timeline
        #expect(try restored.predict(data.validation, timeline: timeline) == (try model.predict(data.validation, timeline: timeline)))
        var other = try DeepCTR<DeepFM>(configuration: try smallDeep(DeepFM.self), context: ComponentContext(seed: 1))
        #expect(throws: RecError.self) { try other.restore(from: bytes) }
        for cut in [0, 10, bytes.count / 2, bytes.count - 1] {
            #expect(throws: RecError.self) { try restored.restore(from: Array(bytes.prefix(cut))) }
        }
    }

    /// A sequence setting on a model that reads none, and a bad shape, are refused with their key.
    @Test func misconfiguredModelsNameTheKey() throws {
        for (type, yaml, key) in [
            ("deepfm", "{ behaviour: { length: 10 } }", "behaviour"), ("xdeepfm", "{ cin: [7, 8] }", "cin"),
            ("autoint", "{ attention_size: 10, heads: 3 }", "heads"), ("fibinet", "{ bilinear: pairs }", "bilinear"),
            ("din", "{ behaviour: { length: 0 } }", "behaviour.length"), ("dcnv2", "{ mlp: [0] }", "mlp"),
        ] {
            let node = try YAMLParser.parse(yaml, file: "spec.yaml")
            let decode: () throws -> Void =
                switch type {
                case "deepfm": { _ = try NodeDecoder().decode(DeepFM.Configuration.self, from: node, path: []) }
                case "xdeepfm": { _ = try NodeDecoder().decode(XDeepFM.Configuration.self, from: node, path: []) }
                case "autoint": { _ = try NodeDecoder().decode(AutoInt.Configuration.self, from: node, path: []) }
                case "fibinet": { _ = try NodeDecoder().decode(FiBiNet.Configuration.self, from: node, path: []) }
                case "din": { _ = try NodeDecoder().decode(DIN.Configuration.self, from: node, path: []) }
                default: { _ = try NodeDecoder().decode(DCNv2.Configuration.self, from: node, path: []) }
                }
            do {
                try decode()
                Issue.record("\(type) \(yaml) was accepted")
            } catch {
                #expect("\(error)".contains(key), "\(type) \(yaml): \(error)")
                #expect("\(error)".contains("spec.yaml"), "\(type) \(yaml): \(error) names no file")
            }
        }
    }

    @Test func deepModelsConform() throws {
        try Conformance.scorer(DeepCTR<DeepFM>.self) { try DeepCTR(configuration: try smallDeep(DeepFM.self), context: ComponentContext(seed: $0)) }
        try Conformance.scorer(DeepCTR<XDeepFM>.self) { try DeepCTR(configuration: try smallDeep(XDeepFM.self, "{ cin: [8, 8] }"), context: ComponentContext(seed: $0)) }
        try Conformance.scorer(DeepCTR<DCNv2>.self) { try DeepCTR(configuration: try smallDeep(DCNv2.self), context: ComponentContext(seed: $0)) }
        try Conformance.scorer(DeepCTR<AutoInt>.self) { try DeepCTR(configuration: try smallDeep(AutoInt.self, "{ attention_size: 8 }"), context: ComponentContext(seed: $0)) }
        try Conformance.scorer(DeepCTR<FiBiNet>.self) { try DeepCTR(configuration: try smallDeep(FiBiNet.self), context: ComponentContext(seed: $0)) }
        try Conformance.scorer(DeepCTR<DIN>.self) { try DeepCTR(configuration: try smallDeep(DIN.self), context: ComponentContext(seed: $0)) }
    }
}

@Suite struct FirstValueFieldTests {
    /// `NAME:first` keeps a multi-valued field's first value, in the data's own order.
    @Test func firstValueOfAMultiValuedField() throws {
        let data = syntheticCTR(users: 3, items: 4, perUser: 2)
        let layout = try FieldLayout(fieldNames: ["item_id", "genres:first", "genres"], userCount: 3, itemCount: 4, users: data.userFeatures, items: data.itemFeatures)
        let genres = data.itemFeatures["genres"]!
        for item in 0..<4 {
            let first = layout.itemTokens[item][1], all = layout.itemTokens[item][2]
            #expect(first.count == 1 && all.count == 2)
            // Rows of the first-value field follow item_id's 4 rows, in the vocabulary's order.
            #expect(Int(first[0].row) - 4 == Int(genres.codes[item][0]))
        }
        #expect(layout.fields[1].kind == .categorical && layout.fields[2].kind == .multiCategorical)
        #expect(throws: RecError.self) { _ = try FieldLayout.resolve("group:first", users: data.userFeatures, items: data.itemFeatures) }
    }
}

/// FiBiNET's forward pass against an independent PyTorch implementation written from the paper
/// (Benchmarks/fibinet_reference.py; RecBole 1.2.1 has no FiBiNET to train beside ours).
@Suite struct FiBiNetReferenceTests {
    struct Reference: Decodable {
        struct Shape: Decodable { var batch, fields, width, hidden: Int }
        var shape: Shape
        var weights: [String: [Float]]
        var fields: [Float]
        var first_order: [Float]
        var logits: [Float]
    }

    @Test func logitsMatchTheReference() throws {
        let url = URL(fileURLWithPath: Fixtures.directory + "/ctr/fibinet-reference.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let s = reference.shape
        let data = syntheticCTR(users: 4, items: 4, perUser: 2)
        let layout = try FieldLayout(fieldNames: ["user_id", "group", "item_id", "genres"], userCount: 4, itemCount: 4, users: data.userFeatures, items: data.itemFeatures)
        let node = try YAMLParser.parse("{ embedding: \(s.width), mlp: [\(s.hidden)], reduction_ratio: 3, bilinear: each }", file: "test")
        let configuration = try NodeDecoder().decode(FiBiNet.Configuration.self, from: node, path: [])
        var rng = SplitMix64(seed: 1)
        let embedding = FieldEmbedding(layout: layout, width: s.width, rng: &rng)
        let network = FiBiNet.network(configuration, embedding: embedding, rng: &rng)
        var loaded = 0
        for (name, tensor) in network.parameters {
            guard let values = reference.weights[name] else { continue }
            #expect(values.count == tensor.count, "\(name): \(values.count) values for \(tensor.shape)")
            tensor.data = values
            loaded += 1
        }
        #expect(loaded == reference.weights.count, "every reference weight has a tensor of that name")
        let batch = CTRBatch(
            size: s.batch, fields: Tensor(shape: [s.batch, s.fields, s.width], data: reference.fields),
            firstOrder: Tensor(shape: [s.batch, 1], data: reference.first_order))
        var unused = SplitMix64(seed: 0)
        let logits = network.logits(batch, training: false, rng: &unused)
        for (ours, theirs) in zip(logits.data, reference.logits) { #expect(abs(ours - theirs) < 1e-4 * max(1, abs(theirs)), "\(ours) against \(theirs)") }
    }
}
