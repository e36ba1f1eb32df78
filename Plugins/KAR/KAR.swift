import CTR
import RecCore
import RecTensor

/// KAR (Xi et al., 2023, "Towards Open-World Recommendation with Knowledge Augmentation from
/// Large Language Models") around any deep CTR backbone: the encoder's vectors of each user's
/// reasoning knowledge and each item's factual knowledge pass through the hybrid-expert
/// adaptor into two extra fields of the backbone, trained jointly with it.
///
/// The pipeline supplies the vectors: augment stages write the texts (`kar.history`,
/// `kar.reasoning`, `kar.facts`), its encoder turns `encode_user_fields` into
/// `TrainingSet.userVectors` and `encode_fields` into `itemVectors`.
///
/// ```yaml
/// scorer:
///   type: kar
///   backbone: { type: dcnv2, cross_layers: 3, fields: [user_id, item_id, "genres:first"] }
///   knowledge: both            # or reasoning, facts
///   shared_experts: 2
///   dedicated_experts: 5
///   expert: [128, 32]          # the last size is the backbone's embedding width
///   shuffle: false             # control: vectors permuted across users and across items
/// ```
public struct KAR: Scorer, Trainable, Checkpointable, ReadsFeatures, ReadsBehaviour, ReadsVectors {
    public struct Configuration: Codable, Sendable, Equatable {
        public enum Knowledge: String, Codable, Sendable, CaseIterable { case both, reasoning, facts }

        package var backbone: CTRBackbone
        public var knowledge = Knowledge.both
        public var sharedExperts = 2
        public var dedicatedExperts = 5
        public var expert = [128, 32]
        public var shuffle = false

        enum CodingKeys: String, CodingKey, CaseIterable { case backbone, knowledge, sharedExperts, dedicatedExperts, expert, shuffle }

        /// KAR's defaults around `backbone`, the experts' last size its embedding width.
        package init(backbone: CTRBackbone, knowledge: Knowledge) {
            self.backbone = backbone
            self.knowledge = knowledge
            expert = [128, backbone.configuration.common.embedding]
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            backbone = try c.decodeIfPresent(CTRBackbone.self, forKey: .backbone) ?? CTRBackbone(kind: DeepFM.kind)
            knowledge = try c.decode(.knowledge, default: .both)
            sharedExperts = try c.decode(.sharedExperts, default: 2, in: 0...64)
            dedicatedExperts = try c.decode(.dedicatedExperts, default: 5, in: 0...64)
            guard sharedExperts + dedicatedExperts > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .dedicatedExperts, in: c, debugDescription: "the adaptor needs at least one expert")
            }
            expert = try c.decode(.expert, default: [128, 32])
            let width = backbone.configuration.common.embedding
            guard !expert.isEmpty, expert.count <= 8, expert.allSatisfy({ (1...65_536).contains($0) }), expert.last == width else {
                throw DecodingError.dataCorruptedError(
                    forKey: .expert, in: c,
                    debugDescription: "expert sizes are 1...65536, at most 8 layers, the last equal to the backbone's embedding width (\(width)); got \(expert)")
            }
            shuffle = try c.decode(.shuffle, default: false)
        }
    }

    public static let kind = "kar"
    public static let summary = "KAR: LLM reasoning and factual knowledge through a hybrid-expert adaptor into any deep CTR backbone (Xi et al., 2023)"
    public let configuration: Configuration
    public var predicts: PredictionKind { .probability }
    private var backbone: any DenseFieldsScorer

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        backbone = try configuration.backbone.make(context: context)
    }

    public var behaviourLength: Int { backbone.behaviourLength }

    public func check(userFeatures: FeatureTable, itemFeatures: FeatureTable) throws {
        do {
            try backbone.check(userFeatures: userFeatures, itemFeatures: itemFeatures)
        } catch var error as RecError {
            // The backbone's key paths are relative to its own slot.
            error.keyPath = error.keyPath.map { "backbone.\($0)" }
            throw error
        }
    }

    public var readsUserVectors: Bool { configuration.knowledge != .facts }
    public var readsItemVectors: Bool { configuration.knowledge != .reasoning }

    var sides: [KnowledgeFields.Side] {
        switch configuration.knowledge {
        case .both: [.user, .item]
        case .reasoning: [.user]
        case .facts: [.item]
        }
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        var inputs: [Tensor] = []
        for side in sides {
            let (vectors, count, what) =
                side == .user
                ? (data.userVectors, data.userCount, "user (the reasoning: give the pipeline encode_user_fields)")
                : (data.itemVectors, data.itemCount, "item (the facts: give the pipeline encode_fields)")
            guard vectors.count == count, let dimension = vectors.first?.count, dimension > 0 else {
                throw RecError(
                    .plugin,
                    "kar needs one encoder vector per \(what); the pipeline gave \(vectors.count) for \(count). Give it an encoder: slot and augment stages that write the knowledge"
                )
            }
            if let other = inputs.first?.shape[1], other != dimension {
                throw RecError(.plugin, "kar's user vectors have \(other) dimensions and its item vectors \(dimension); encode both with one encoder")
            }
            guard vectors.allSatisfy({ $0.count == dimension }) else { throw RecError(.plugin, "kar's \(side) vectors differ in dimension") }
            var rows = Array(0..<count)
            if configuration.shuffle {
                var rng = SplitMix64(seed: context.seed).derived("kar-shuffle-\(side)")
                rows.shuffle(using: &rng)
            }
            inputs.append(Tensor(shape: [count, dimension], data: rows.flatMap { vectors[$0] }))
        }
        let fields = KnowledgeFields(sides: sides, inputs: inputs, configuration: configuration, width: backbone.fieldWidth, seed: context.seed)
        backbone.dense = fields
        context.report(.message("knowledge fields: \(sides.map { $0 == .user ? "reasoning" : "facts" }.joined(separator: ", ")) (\(inputs[0].shape[1])-d vectors)"))
        try backbone.fit(data, context: context)
        fields.freeze()
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        try backbone.predict(users: users, items: items, history: history)
    }

    public func predict(_ pairs: [Interaction], timeline: Timeline) throws -> [Float] {
        try backbone.predict(pairs, timeline: timeline)
    }

    /// The knowledge tables' sides and sizes, then the backbone's checkpoint (which holds the
    /// tables' values).
    public func checkpoint() throws -> [UInt8] {
        guard let fields = backbone.dense as? KnowledgeFields, let tables = fields.tables else {
            throw RecError(.plugin, "kar has no trained state to checkpoint")
        }
        var writer = CheckpointWriter()
        writer.int32s(fields.sides.map { Int32($0.rawValue) })
        writer.int32s(tables.map { Int32($0.shape[0]) })
        writer.int(fields.width)
        writer.blob(try backbone.checkpoint())
        return writer.bytes
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        var reader = CheckpointReader(bytes, model: Self.kind)
        let sides = try reader.int32s().map { raw in
            guard let side = KnowledgeFields.Side(rawValue: Int(raw)) else { throw RecError(.plugin, "kar checkpoint names an unknown side \(raw)") }
            return side
        }
        let counts = try reader.int32s().map(Int.init)
        let width = try reader.int()
        guard sides == self.sides, counts.count == sides.count, counts.allSatisfy({ $0 >= 0 }), width == backbone.fieldWidth else {
            throw RecError(.plugin, "kar checkpoint was written for other knowledge fields (\(sides), width \(width))")
        }
        backbone.dense = KnowledgeFields(sides: sides, counts: counts, width: width)
        try backbone.restore(from: try reader.blob())
        try reader.finish()
    }
}
