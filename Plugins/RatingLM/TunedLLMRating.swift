import Foundation
import RecCore
import RecLM
import RecTensor

/// The fine-tuned rating model of Kang et al. (2023), scaled to the local model: a LoRA adapter
/// on the language model and a head on the last prompt token's final hidden state, trained
/// together on training ratings with the prompt `llm_rating` uses.
///
/// - `output: regression`: one output added to the training mean, trained on the squared error
///   (the paper's better framing); the prediction is clipped to 1...5.
/// - `output: classification`: five outputs, one per star, trained with cross-entropy; the
///   prediction is the most probable star.
///
/// Shapes: prompt `[T]` tokens -> hidden states `[1, H]` at the last token (LoRA on `targets`)
/// -> head `[H, 1]` or `[H, 5]`. Training takes `examples` training ratings drawn with the seed,
/// each with the `history` ratings before it, for `epochs` passes; Adam over the adapter and the
/// head, gradients of `batch` examples averaged and clipped to norm 1. The adapter and head are
/// the checkpoint, so the stage cache keeps them. The local backend only.
///
/// ```yaml
/// scorer: { type: llm_rating_tuned, output: regression, examples: 2000, epochs: 1 }
/// ```
public struct TunedLLMRating: Scorer, Trainable, ReadsBehaviour, Checkpointable {
    public struct Configuration: Codable, Sendable, Equatable {
        public var lm = LanguageModelSpec()
        public var output = LLMRating.Configuration.Output.regression
        public var history = 10
        public var examples = 2000
        public var epochs = 1
        public var learningRate = 1e-4
        public var batch = 8
        public var rank = 8
        public var alpha = 16.0
        public var targets = ["q", "v"]

        enum CodingKeys: String, CodingKey, CaseIterable { case lm, output, history, examples, epochs, learningRate, batch, rank, alpha, targets }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lm = try c.decode(.lm, default: LanguageModelSpec())
            output = try c.decode(.output, default: LLMRating.Configuration.Output.regression)
            history = try c.decode(.history, default: 10, in: 1...100)
            examples = try c.decode(.examples, default: 2000, in: 1...10_000_000)
            epochs = try c.decode(.epochs, default: 1, in: 1...1000)
            learningRate = try c.decode(.learningRate, default: 1e-4, in: 1e-8...1)
            batch = try c.decode(.batch, default: 8, in: 1...4096)
            rank = try c.decode(.rank, default: 8, in: 1...512)
            alpha = try c.decode(.alpha, default: 16, in: 1e-3...1e6)
            targets = try c.decode(.targets, default: ["q", "v"])
            if let bad = targets.first(where: { !LoRAModel.Options.projections.contains($0) }) {
                throw DecodingError.dataCorruptedError(
                    forKey: .targets, in: c, debugDescription: "unknown LoRA target '\(bad)'; valid: \(LoRAModel.Options.projections.joined(separator: ", "))")
            }
        }
    }

    public static let kind = "llm_rating_tuned"
    public static let summary = "a LoRA-tuned language model with a rating head on its last hidden state (Kang et al. 2023's fine-tuned LLM)"
    public let configuration: Configuration
    public var predicts: PredictionKind { .rating }
    public var behaviourLength: Int { configuration.history }
    let seed: UInt64
    /// Where scoring reports how far it is (nil outside a run).
    let progress: ProgressReporter?
    private var state: TunedRatingState?
    /// The training timeline, for pairs scored without one.
    private var trained: Timeline?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
        progress = context.progress
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        let prompt = RatingPrompt(items: data.itemText)
        for event in data.interactions { _ = try LLMRating.rated(event, prompt: prompt) }
        let mean = data.interactions.meanRating
        let state = try TunedRatingState(configuration, prompt: prompt, mean: mean, seed: seed)
        var rng = SplitMix64(seed: seed).derived("llm_rating_tuned examples")
        var chosen = Array(data.interactions.indices)
        chosen.shuffle(using: &rng)
        let timeline = Timeline(userCount: data.userCount, data.historyOnly + data.interactions)
        try state.train(chosen.prefix(configuration.examples).map { data.interactions[$0] }, timeline: timeline, context: context)
        self.state = state
        trained = timeline
    }

    /// Pairs read the user's last training ratings (after a restore from the stage cache, the
    /// runner scores through the split's timeline instead).
    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        guard state != nil else { throw RecError(.plugin, "llm_rating_tuned predicts before it was trained") }
        guard let trained else { throw RecError(.plugin, "llm_rating_tuned scores pairs through the split's timeline once restored from a checkpoint") }
        return try predict(zip(users, items).map { Interaction(user: $0, item: $1, rating: 0, time: .max) }, timeline: trained)
    }

    public func predict(_ pairs: [Interaction], timeline: Timeline) throws -> [Float] {
        guard let state else { throw RecError(.plugin, "llm_rating_tuned predicts before it was trained") }
        let started = Date()
        return try pairs.enumerated().map { index, pair in
            let history = try timeline.before(pair, limit: configuration.history).map { try LLMRating.rated($0, prompt: state.prompt) }
            let value = try state.predict(history: history, candidate: pair.item)
            progress?.milestone("  llm_rating_tuned: pairs scored", done: index + 1, total: pairs.count, started: started)
            return value
        }
    }

    public func checkpoint() throws -> [UInt8] {
        guard let state else { throw RecError(.plugin, "llm_rating_tuned has nothing to checkpoint before it was trained") }
        var writer = CheckpointWriter()
        state.write(to: &writer)
        return writer.bytes
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        var reader = CheckpointReader(bytes, model: Self.kind)
        state = try TunedRatingState(configuration, restoring: &reader, seed: seed)
        guard reader.isAtEnd else { throw RecError(.data, "llm_rating_tuned checkpoint: bytes left over after the adapter (another configuration?)") }
        trained = nil
    }
}
