import CTR
import Foundation
import KAR
import RecCore

/// A deep CTR backbone as a full-ranking retriever, given the items' text vectors as an extra
/// field (through KAR's hybrid-expert adaptor, item side only): LLM-Rec's feature-based
/// baselines (AutoInt, DCNv2) on the same text vectors as its MLP.
///
/// It trains on implicit feedback: every training interaction a positive, with `negatives`
/// uniform items the user has not had as negatives (validation pairs the same way, for early
/// stopping), and ranks every item by the backbone's probability.
///
/// ```yaml
/// retriever: { type: llmrec.ctr, backbone: { type: dcnv2, fields: [user_id, item_id] }, text: true }
/// ```
public struct CTRRetriever: Retriever, Trainable, Checkpointable, ReadsVectors {
    public struct Configuration: Codable, Sendable, Equatable {
        package var backbone: CTRBackbone
        /// Whether the item text vectors enter as a field.
        public var text = true
        public var negatives = 1

        enum CodingKeys: String, CodingKey, CaseIterable { case backbone, text, negatives }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            backbone = try c.decodeIfPresent(CTRBackbone.self, forKey: .backbone) ?? CTRBackbone(kind: DeepFM.kind)
            guard backbone.kind != DIN.kind else {
                // Sampled negatives are not interactions a behaviour sequence could look back on.
                throw DecodingError.dataCorruptedError(forKey: .backbone, in: c, debugDescription: "llmrec.ctr takes backbones without a behaviour sequence, not din")
            }
            text = try c.decode(.text, default: true)
            negatives = try c.decode(.negatives, default: 1, in: 1...100)
        }
    }

    public static let kind = "llmrec.ctr"
    public static let summary = "a deep CTR backbone ranking every item, trained on implicit feedback with sampled negatives, optionally with item text vectors"
    public let configuration: Configuration
    private var scorer: any Scorer & Trainable & Checkpointable
    private var itemCount = 0

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        scorer =
            configuration.text
            ? try KAR(configuration: KAR.Configuration(backbone: configuration.backbone, knowledge: .facts), context: context)
            : try configuration.backbone.make(context: context)
    }

    public var readsUserVectors: Bool { false }
    public var readsItemVectors: Bool { configuration.text }

    /// `pairs` as positives (rating 1) and `negatives` sampled items each (rating 0).
    func labelled(_ pairs: [Interaction], seen: [Set<Int32>], itemCount: Int, rng: inout SplitMix64) -> [Interaction] {
        pairs.flatMap { pair -> [Interaction] in
            var out = [Interaction(user: pair.user, item: pair.item, rating: 1, time: pair.time)]
            for _ in 0..<configuration.negatives {
                var negative = Int32(rng.next() % UInt64(itemCount))
                for _ in 0..<20 where seen[Int(pair.user)].contains(negative) { negative = Int32(rng.next() % UInt64(itemCount)) }
                out.append(Interaction(user: pair.user, item: negative, rating: 0, time: pair.time))
            }
            return out
        }
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        var rng = SplitMix64(seed: context.seed).derived("llmrec-ctr-negatives")
        let seen = data.history.map(Set.init)
        var labelled = data
        labelled.interactions = self.labelled(data.interactions, seen: seen, itemCount: data.itemCount, rng: &rng)
        labelled.validation = self.labelled(data.validation, seen: seen, itemCount: data.itemCount, rng: &rng)
        labelled.labelRule = LabelRule(.greater, 0.5)
        labelled.historyOnly = []
        itemCount = data.itemCount
        try scorer.fit(labelled, context: context)
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        let items = (0..<Int32(itemCount)).map { $0 }
        for (row, user) in users.enumerated() {
            let predictions = try scorer.predict(users: [Int32](repeating: user, count: itemCount), items: items, history: history)
            for (item, value) in predictions.enumerated() { scores[row * itemCount + item] = value }
        }
    }

    public func checkpoint() throws -> [UInt8] {
        var writer = CheckpointWriter()
        writer.int(itemCount)
        writer.blob(try scorer.checkpoint())
        return writer.bytes
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        var reader = CheckpointReader(bytes, model: Self.kind)
        itemCount = try reader.count(atMost: 100_000_000)
        try scorer.restore(from: try reader.blob())
        try reader.finish()
    }
}
