import Foundation
import RecCore
import RecLM
import RecTensor

/// What `TunedLLMRating` trains and keeps: the LoRA model over the local weights, the head, the
/// training mean and the item descriptions its prompts use.
final class TunedRatingState: @unchecked Sendable {
    let configuration: TunedLLMRating.Configuration
    let prompt: RatingPrompt
    let chat: LocalLanguageModel
    let model: LoRAModel
    /// `[H, 1]` (regression) or `[H, 5]` (classification), and its bias.
    let weight: Tensor, bias: Tensor
    let mean: Float

    var parameters: [Tensor] { model.parameters + [weight, bias] }

    init(_ configuration: TunedLLMRating.Configuration, prompt: RatingPrompt, mean: Float, seed: UInt64) throws {
        self.configuration = configuration
        self.prompt = prompt
        self.mean = mean
        var spec = configuration.lm
        spec.adapter = nil
        guard let chat = try spec.make(cache: nil) as? LocalLanguageModel else {
            throw RecError(.plugin, "llm_rating_tuned fine-tunes a local model; '\(configuration.lm.model)' is served by '\(configuration.lm.backend)'")
        }
        self.chat = chat
        model = try LoRAModel(
            model: chat.engine, options: .init(rank: configuration.rank, alpha: Float(configuration.alpha), targets: configuration.targets, seed: seed))
        // The head starts at zero: the first predictions are the training mean (regression) or
        // uniform (classification). A randomly drawn head on SmolLM2's final hidden states
        // started every prompt at the same extreme output (each one clipped to 1 star), which a
        // short training spends its steps undoing. The adapter still learns: its gradient
        // reaches it through the head once the first update has moved the head.
        let hidden = model.configuration.hidden, outputs = configuration.output == .regression ? 1 : 5
        weight = Tensor.zeros([hidden, outputs], requiresGrad: true)
        bias = Tensor.zeros([outputs], requiresGrad: true)
    }

    /// `[1, outputs]` for one prompt, recording the graph unless inside `noGrad`.
    func outputs(history: [RatingPrompt.Rated], candidate: Int32) throws -> Tensor {
        let tokens = try chat.tokens(.chat([ChatMessage(role: "user", content: prompt.message(history: history, candidate: candidate))]))
        return model.hiddenStates(tokens, rows: [tokens.count - 1]).linear(weight, bias)
    }

    func predict(history: [RatingPrompt.Rated], candidate: Int32) throws -> Float {
        let values = try Tensor.noGrad { try outputs(history: history, candidate: candidate).data }
        if configuration.output == .regression { return min(5, max(1, values[0] + mean)) }
        var best = 0
        for index in values.indices where values[index] > values[best] { best = index }
        return Float(best + 1)
    }

    /// Adam over the adapter and the head: each sample's loss scaled by 1/batch, the summed
    /// gradient clipped to norm 1 and applied every `batch` samples.
    func train(_ samples: [Interaction], timeline: Timeline, context: TrainingContext) throws {
        let adam = Adam(parameters: parameters, learningRate: Float(configuration.learningRate))
        var rng = SplitMix64(seed: context.seed).derived("llm_rating_tuned order")
        let histories = try samples.map { sample in try timeline.before(sample, limit: configuration.history).map { try LLMRating.rated($0, prompt: prompt) } }
        let scale = 1 / Float(configuration.batch)
        for epoch in 1...configuration.epochs {
            var order = Array(samples.indices)
            order.shuffle(using: &rng)
            var total = 0.0
            adam.zeroGrad()
            for (done, index) in order.enumerated() {
                let out = try outputs(history: histories[index], candidate: samples[index].item)
                let rating = samples[index].rating
                let loss: Tensor
                if configuration.output == .regression {
                    let error = out + (mean - rating)
                    loss = error * error
                } else {
                    loss = Loss.crossEntropy(out, targets: [Int32(max(1, min(5, rating.rounded()))) - 1])
                }
                total += Double(loss.item)
                (loss * scale).backward()
                if (done + 1) % configuration.batch == 0 || done + 1 == order.count {
                    _ = clipGradientNorm(parameters, maxNorm: 1)
                    adam.update()
                    adam.zeroGrad()
                }
                if (done + 1) % 100 == 0 {
                    context.report(.message(String(format: "llm_rating_tuned epoch %d: %d/%d examples, mean loss %.4f", epoch, done + 1, order.count, total / Double(done + 1))))
                }
            }
            context.report(.epochEnd(epoch: epoch, of: configuration.epochs, loss: total / Double(max(1, order.count))))
        }
    }

    /// The checkpoint: the training mean, the item descriptions, the head and the adapter.
    func write(to writer: inout CheckpointWriter) {
        writer.floats([mean])
        writer.int(prompt.descriptions.count)
        for description in prompt.descriptions { writer.string(description) }
        for tensor in [weight, bias] + model.parameters { writer.floats(tensor.data) }
    }

    convenience init(_ configuration: TunedLLMRating.Configuration, restoring reader: inout CheckpointReader, seed: UInt64) throws {
        let mean = try reader.floats()
        let count = try reader.count(atMost: 100_000_000)
        var descriptions: [String] = []
        for _ in 0..<count { descriptions.append(try reader.string()) }
        guard mean.count == 1 else { throw RecError(.data, "llm_rating_tuned checkpoint: the training mean is missing") }
        try self.init(configuration, prompt: RatingPrompt(descriptions: descriptions), mean: mean[0], seed: seed)
        for tensor in [weight, bias] + model.parameters {
            let values = try reader.floats()
            guard values.count == tensor.count else {
                throw RecError(.data, "llm_rating_tuned checkpoint: a tensor of \(values.count) values where the model has \(tensor.count) (another rank, target list or model?)")
            }
            tensor.data = values
        }
    }
}
