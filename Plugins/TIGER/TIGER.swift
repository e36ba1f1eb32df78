import Foundation
import RecCore
import RecTensor

/// TIGER's generative retriever: the sequence-to-sequence model (`TIGERModel`) trained with
/// teacher forcing to write the next item's semantic ID from the user token and the IDs of the
/// last `history` items, and constrained beam search over the trie of valid IDs at retrieval.
///
/// Training takes every position of every user's training history as an example (the items
/// before it, at most `history`, predict it), in shuffled batches, with Adam. After every epoch
/// the model and the optimiser's state go to the artifact store under a key of the training
/// data, the semantic IDs, the configuration and the seed, so a killed run resumes at the next
/// epoch instead of from the start.
///
/// ```yaml
/// retriever: { type: tiger, epochs: 20, beam: 20, user_tokens: 2000 }
/// ```
public struct TIGER: ListRetriever, Trainable, Checkpointable, ReadsDerived, Diagnosing, SequenceAware {
    public struct Configuration: Codable, Sendable, Equatable {
        public var dModel = 128
        public var heads = 6
        public var headWidth = 64
        public var feedForward = 1024
        public var encoderLayers = 4
        public var decoderLayers = 4
        public var dropout = 0.1
        public var history = 20
        public var userTokens = 2000
        public var beam = 20
        public var epochs = 20
        public var batchSize = 256
        public var learningRate = 1e-3

        enum CodingKeys: String, CodingKey, CaseIterable {
            case dModel, heads, headWidth, feedForward, encoderLayers, decoderLayers, dropout, history, userTokens, beam, epochs, batchSize, learningRate
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dModel = try c.decode(.dModel, default: 128, in: 1...8192)
            heads = try c.decode(.heads, default: 6, in: 1...256)
            headWidth = try c.decode(.headWidth, default: 64, in: 1...4096)
            feedForward = try c.decode(.feedForward, default: 1024, in: 1...65_536)
            encoderLayers = try c.decode(.encoderLayers, default: 4, in: 1...64)
            decoderLayers = try c.decode(.decoderLayers, default: 4, in: 1...64)
            dropout = try c.decode(.dropout, default: 0.1, in: 0...0.9)
            history = try c.decode(.history, default: 20, in: 1...1000)
            userTokens = try c.decode(.userTokens, default: 2000, in: 0...10_000_000)
            beam = try c.decode(.beam, default: 20, in: 1...10_000)
            epochs = try c.decode(.epochs, default: 20, in: 1...100_000)
            batchSize = try c.decode(.batchSize, default: 256, in: 1...100_000)
            learningRate = try c.decode(.learningRate, default: 1e-3, in: 1e-8...10)
        }
    }

    public static let kind = "tiger"
    public static let summary = "TIGER: a sequence-to-sequence Transformer that writes the next item's semantic ID, decoded by beam search over valid IDs"
    public let configuration: Configuration
    public var readsDerived: [String] { [SemanticIDs.name] }
    let seed: UInt64
    let artifacts: (any ArtifactStore)?
    private var model: TIGERModel?
    private var vocabulary: SemanticVocabulary?
    private var ids: SemanticIDs?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
        artifacts = context.artifacts
    }

    func makeModel(_ vocabulary: SemanticVocabulary, rng: inout SplitMix64) -> TIGERModel {
        let c = configuration
        let shape = TIGERModel.Shape(
            vocabulary: vocabulary.size, dModel: c.dModel, heads: c.heads, headWidth: c.headWidth, feedForward: c.feedForward, encoderLayers: c.encoderLayers,
            decoderLayers: c.decoderLayers, encoderLength: encoderLength(vocabulary), decoderLength: vocabulary.idLength, dropout: Float(c.dropout))
        return TIGERModel(shape, rng: &rng)
    }

    func encoderLength(_ vocabulary: SemanticVocabulary) -> Int { (vocabulary.userBuckets > 0 ? 1 : 0) + configuration.history * vocabulary.idLength }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard let ids = data.derived.semanticIDs else {
            throw RecError(.plugin, "tiger reads semantic IDs; add a derive stage that builds them (derive: [{ type: tiger.semantic_ids }])")
        }
        guard ids.codes.count == data.itemCount else {
            throw RecError(.plugin, "tiger: the semantic IDs cover \(ids.codes.count) items, the catalogue has \(data.itemCount)")
        }
        let vocabulary = SemanticVocabulary(ids: ids, userBuckets: configuration.userTokens)
        // The seeded initial model and a fresh optimiser over it.
        func start() -> (TIGERModel, Adam) {
            var rng = SplitMix64(seed: seed).derived("tiger")
            let model = makeModel(vocabulary, rng: &rng)
            return (model, Adam(parameters: model.orderedParameters, learningRate: Float(configuration.learningRate)))
        }
        var (model, adam) = start()
        let examples = data.history.enumerated().flatMap { user, items in (1..<max(1, items.count)).map { (Int32(user), items, $0) } }
        guard !examples.isEmpty else { throw RecError(.plugin, "tiger: no user has two training items, so there is nothing to learn from") }
        let progressKey = try Self.progressKey(configuration: configuration, ids: ids, history: data.history, seed: seed)
        var first = 1
        if let stored = try artifacts?.artifact(progressKey) {
            do {
                let (epoch, tensors) = try Self.decodeProgress(stored)
                // Progress past the epochs asked for belongs to a longer run: start over.
                guard epoch <= configuration.epochs else {
                    throw RecError(.plugin, "it is past the \(configuration.epochs) epochs asked for (epoch \(epoch))")
                }
                try model.replace(with: tensors)
                try adam.restore(tensors, prefix: "adam.")
                first = epoch + 1
                context.report(.message("tiger: resuming after epoch \(epoch) of \(configuration.epochs)"))
            } catch {
                // A progress record that does not fit is set aside: training starts over and
                // overwrites it after its first epoch.
                (model, adam) = start()
                first = 1
                context.report(.message("tiger: the stored training progress is unusable (\(error)); training from the start"))
            }
        }
        let inputs = examples.map { min($0.2, configuration.history) }
        for epoch in first...max(first, configuration.epochs) where epoch <= configuration.epochs {
            var dropout = SplitMix64(seed: seed).derived("tiger dropout \(epoch)")
            var total = 0.0, batches = 0
            let epochBatches = Self.batches(lengths: inputs, size: configuration.batchSize, seed: seed, epoch: epoch)
            let started = Date(), every = max(1, epochBatches.count / 10)
            for batchIndices in epochBatches {
                let batch = batchIndices.map { examples[$0] }
                // Padded to the batch's longest input only.
                let length = (vocabulary.userBuckets > 0 ? 1 : 0) + vocabulary.idLength * batchIndices.map { inputs[$0] }.max()!
                let encoder = batch.map { user, items, position in
                    vocabulary.encoderTokens(user: user, items: items[max(0, position - configuration.history)..<position], length: length)
                }
                let targets = batch.map { vocabulary.itemTokens[Int($0.1[$0.2])] }
                adam.zeroGrad()
                let memory = model.encode(encoder, training: true, rng: &dropout)
                let logits = model.decode(
                    targets.map { [SemanticVocabulary.start] + $0.dropLast() }, memory: memory, memoryPadding: encoder.map { $0.map { $0 == SemanticVocabulary.padding } },
                    training: true, rng: &dropout)
                let loss = Loss.crossEntropy(logits.reshaped([batch.count * vocabulary.idLength, vocabulary.size]), targets: targets.flatMap { $0 })
                loss.backward()
                adam.update()
                total += Double(loss.item)
                batches += 1
                // An epoch on real data takes minutes: a line every tenth of one.
                if batches % every == 0 && batches < epochBatches.count {
                    let seconds = Date().timeIntervalSince(started)
                    context.report(
                        .message(
                            String(
                                format: "epoch %d/%d: batch %d of %d, loss %.4f, %.0f s (about %.0f s for the epoch)", epoch, configuration.epochs, batches,
                                epochBatches.count, total / Double(batches), seconds, seconds * Double(epochBatches.count) / Double(batches))))
                }
            }
            guard total.isFinite else { throw RecError(.plugin, "tiger: the loss became \(total) in epoch \(epoch); lower learning_rate") }
            context.report(.epochEnd(epoch: epoch, of: configuration.epochs, loss: total / Double(batches)))
            try artifacts?.putArtifact(progressKey, kind: "tiger-progress", data: try Self.encodeProgress(epoch: epoch, model: model, adam: adam))
        }
        self.model = model
        self.vocabulary = vocabulary
        self.ids = ids
    }

    public func retrieve(user: Int32, history: [Int32], count: Int) throws -> [ScoredItem] {
        guard let model, let vocabulary else { throw RecError(.plugin, "tiger retrieves before it was trained") }
        let tokens = vocabulary.encoderTokens(user: user, items: history.suffix(configuration.history), length: 0)
        guard !tokens.isEmpty else { return [] }
        let found = ConstrainedBeamSearch.search(model, vocabulary: vocabulary, encoderTokens: tokens, width: max(configuration.beam, count))
        return found.prefix(count).map { ScoredItem(item: $0.item, score: Float($0.logProbability)) }
    }

    public func checkpoint() throws -> [UInt8] {
        guard let model, let ids else { throw RecError(.plugin, "tiger: nothing to checkpoint before fit") }
        return try Safetensors.encode(model.parameters, metadata: ["semantic_ids": try canonicalJSON(ids, keys: .asDeclared)])
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        let (tensors, metadata) = try Safetensors.decodeWithMetadata(bytes, file: "TIGER checkpoint")
        guard let text = metadata["semantic_ids"] else { throw RecError(.plugin, "TIGER checkpoint has no semantic IDs") }
        let ids = try decodeJSON(SemanticIDs.self, from: Array(text.utf8))
        let vocabulary = SemanticVocabulary(ids: ids, userBuckets: configuration.userTokens)
        var rng = SplitMix64(seed: seed).derived("tiger")
        let model = makeModel(vocabulary, rng: &rng)
        try model.replace(with: tensors)
        (self.model, self.vocabulary, self.ids) = (model, vocabulary, ids)
    }

    /// The batches of epoch `epoch`: the examples shuffled, then within runs of 32 batches
    /// sorted by input length, so that a batch pads little, then the batches shuffled. Drawn
    /// from the seed and the epoch alone, so a resumed run makes the same batches.
    static func batches(lengths: [Int], size: Int, seed: UInt64, epoch: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed).derived("tiger batches \(epoch)")
        var order = Array(lengths.indices)
        order.shuffle(using: &rng)
        var out: [[Int]] = []
        for start in stride(from: 0, to: order.count, by: size * 32) {
            let run = order[start..<min(order.count, start + size * 32)].sorted { (lengths[$0], $0) < (lengths[$1], $1) }
            for first in stride(from: 0, to: run.count, by: size) { out.append(Array(run[first..<min(run.count, first + size)])) }
        }
        out.shuffle(using: &rng)
        return out
    }

    /// The semantic IDs' codebook usage and collisions, for the report.
    public func diagnostics() -> [String: Int] {
        guard let ids else { return [:] }
        var counts = [
            "items sharing their codes": Int((ids.collisionRate * Double(ids.codes.count)).rounded()), "largest group sharing codes": ids.largestCollision,
        ]
        for (level, usage) in ids.usage.enumerated() { counts["codes used, level \(level + 1)"] = Int((usage * Double(ids.codebookSize)).rounded()) }
        return counts
    }

    public func examples() -> [String] { [] }

    public var countsNote: String? {
        guard let ids else { return nil }
        return "tiger: codes used per level are out of \(ids.codebookSize) per seed (\(ids.quantiser) IDs of \(ids.codes.count) items); items sharing their codes are told apart by a last code."
    }

    /// Where the training progress of this configuration, data and seed is kept. The epoch
    /// count is left out, so that a run asking for more epochs continues from the last one.
    static func progressKey(configuration: Configuration, ids: SemanticIDs, history: [[Int32]], seed: UInt64) throws -> String {
        var design = configuration
        design.epochs = 0
        var hash = SHA256()
        hash.update("tiger-progress\u{0}\(try canonicalJSON(design))\u{0}\(try canonicalJSON(ids, keys: .asDeclared))\u{0}\(seed)\u{0}")
        for items in history { hash.update("\(items)\n") }
        return hash.finalize().hexString
    }

    static func encodeProgress(epoch: Int, model: TIGERModel, adam: Adam) throws -> [UInt8] {
        var tensors = model.parameters
        for (name, tensor) in adam.state(prefix: "adam.") { tensors[name] = tensor }
        return try Safetensors.encode(tensors, metadata: ["epoch": String(epoch)])
    }

    static func decodeProgress(_ bytes: [UInt8]) throws -> (Int, [String: Tensor]) {
        let (tensors, metadata) = try Safetensors.decodeWithMetadata(bytes, file: "TIGER progress")
        guard let epoch = metadata["epoch"].flatMap(Int.init) else { throw RecError(.plugin, "TIGER progress has no epoch") }
        return (epoch, tensors)
    }
}
