import Foundation
import RecCore
import RecLM
import RecTensor

/// PALR's instruction tuning, scaled to the local model: a LoRA adapter on SmolLM2 trained with
/// RecTensor on the Recommend (PALRv1) or Recommend and Recommend_Retrieval (PALRv2) examples
/// of a sample of training users.
///
/// The adapter is named by a hash of everything that determines it (settings, base model, seed
/// and the examples' text), kept as a stage-cache artifact in the results store and written to
/// `$RECLAB_MODELS/adapters/`, so a second run, another pipeline or another evaluation reuses it
/// instead of training again.
struct PALRFineTuning {
    var settings: PALRRanker.FineTuning
    var lm: LanguageModelSpec
    var prompts: PALRPrompts
    var seed: UInt64

    /// The training examples: users sampled with the seed, then each chosen instruction set.
    func examples(histories: [[Int32]], items: [ItemText]) -> [PALRInstructions.Example] {
        var builder = PALRInstructions()
        builder.prompts = prompts
        builder.targets = settings.targets
        builder.candidates = settings.candidates
        builder.seed = seed
        let eligible = histories.indices.filter { histories[$0].count > settings.targets }
        if settings.users > 0 && settings.users < eligible.count {
            var rng = SplitMix64(seed: seed).derived("palr.finetune.users")
            builder.users = Set(eligible.shuffled(using: &rng).prefix(settings.users))
        }
        var out: [PALRInstructions.Example] = []
        if settings.instructions.contains("recommend") { out += builder.recommend(histories: histories, items: items) }
        if settings.instructions.contains("recommend_retrieval") { out += builder.retrieval(histories: histories, items: items) }
        return out
    }

    /// The path of the trained adapter, training it first unless the artifact store or the adapters
    /// folder already has it.
    func adapter(histories: [[Int32]], items: [ItemText], artifacts: (any ArtifactStore)?, context: TrainingContext) throws -> String {
        let examples = examples(histories: histories, items: items)
        guard !examples.isEmpty else { throw RecError(.plugin, "palr.rank finetune: no training user has more than \(settings.targets) items") }
        var hasher = SHA256()
        hasher.update(try canonicalJSON(settings) + "|" + lm.model + "|\(seed)|")
        for example in examples { hasher.update(example.instruction + "\u{1}" + example.input + "\u{1}" + example.output + "\u{2}") }
        let key = hasher.finalize().hexString
        let folder = (ModelFiles.root() as NSString).appendingPathComponent("adapters")
        let path = (folder as NSString).appendingPathComponent("palr-\(key.prefix(16)).safetensors")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let artifact = "lora|palr|" + key
        if let bytes = try artifacts?.artifact(artifact) {
            if !FileManager.default.fileExists(atPath: path) { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) }
            context.report(.message("LoRA adapter restored from the stage cache: \(path)"))
            return path
        }
        // The base model as the rankers load it (shared within the process), without adapter.
        var base = lm
        base.adapter = nil
        guard let chat = try base.make(cache: nil) as? LocalLanguageModel else {
            throw RecError(.plugin, "palr.rank finetune: '\(lm.model)' is not a local model")
        }
        let engine = chat.engine
        let encoded = try examples.map { example in
            LoRAModel.Example(
                prompt: try chat.tokens(.chat([ChatMessage(role: "user", content: PALRPrompts.message((example.instruction, example.input)))])),
                answer: engine.tokenizer.encode(example.output + "<|im_end|>", parseSpecial: true))
        }
        let model = try LoRAModel(model: engine, options: .init(rank: settings.rank, alpha: Float(settings.alpha), targets: settings.projections, seed: seed))
        let tokens = encoded.map { $0.prompt.count + $0.answer.count }.reduce(0, +)
        context.report(.message("LoRA fine-tuning on \(encoded.count) examples (\(settings.instructions.joined(separator: " + "))), \(tokens) tokens per epoch"))
        let means = model.train(encoded, epochs: settings.epochs, learningRate: Float(settings.learningRate), batch: settings.batch, seed: seed) { progress in
            context.report(
                .message(
                    String(
                        format: "LoRA epoch %d: %d/%d examples, loss %.4f, %.0f tokens/s",
                        progress.epoch, progress.examplesDone, progress.examples, progress.loss, progress.tokensPerSecond)))
        }
        for (index, mean) in means.enumerated() { context.report(.epochEnd(epoch: index + 1, of: settings.epochs, loss: mean)) }
        try model.saveAdapter(to: path, baseModel: lm.model)
        try artifacts?.putArtifact(artifact, kind: "lora:palr", data: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        return path
    }
}
