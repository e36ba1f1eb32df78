import Foundation
import RecCore
import RecEval
import RecTensor

/// Self-attentive sequential recommendation.
///
/// **Paper:** Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018,
/// https://arxiv.org/abs/1808.09781.
///
/// **Deviations:** the network follows RecBole 1.2.1's SASRec, which the accuracy targets
/// compare against: post-norm blocks with GELU, LayerNorm eps 1e-12, N(0, 0.02) initialisation,
/// right-padded sequences, and no √d scaling of item embeddings. With `loss: ce` it trains as
/// RecBole does: every prefix of a user's training sequence predicts its next item under a
/// full softmax. With `loss: bce` it trains as the paper does: every position of each user's
/// sequence predicts the next item against one uniformly sampled negative.
///
/// ```yaml
/// retriever: { type: sasrec, hidden_size: 64, layers: 2, heads: 2, max_length: 50, dropout: 0.2, loss: ce, epochs: 20 }
/// ```
public struct SASRec: Retriever, Trainable, Checkpointable, SequenceAware {
    public struct Configuration: Codable, Sendable, Equatable {
        public var hiddenSize = 64
        public var innerSize = 256
        public var layers = 2
        public var heads = 2
        public var maxLength = 50
        public var dropout = 0.2
        public var attentionDropout = 0.2
        /// `ce` (full softmax over prefixes, RecBole) or `bce` (one sampled negative per position, the paper).
        public var loss = "ce"
        public var learningRate = 1e-3
        public var weightDecay = 0.0
        public var batchSize = 256
        public var epochs = 20
        /// Epochs without a better validation NDCG@10 before stopping; 0 trains every epoch.
        public var patience = 0
        public var initStd = 0.02
        /// A safetensors file to start from instead of random weights (with `epochs: 0`, the
        /// model is evaluated as loaded), e.g. a RecBole checkpoint converted by
        /// Benchmarks/recbole_to_safetensors.py. Its metadata key `item_ids` (a JSON list of
        /// original item ids, one per item row after the padding row) maps its rows to this
        /// dataset's items; without it the rows must already be in the dataset's order. Cells
        /// and the stage cache know the file by its path, not its contents: give changed
        /// weights a new file name.
        public var initialWeights: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case hiddenSize, innerSize, layers, heads, maxLength, dropout, attentionDropout, loss
            case learningRate, weightDecay, batchSize, epochs, patience, initStd, initialWeights
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            hiddenSize = try c.decode(.hiddenSize, default: 64, in: 1...4096)
            innerSize = try c.decode(.innerSize, default: 256, in: 1...16384)
            layers = try c.decode(.layers, default: 2, in: 0...48)
            heads = try c.decode(.heads, default: 2, in: 1...64)
            maxLength = try c.decode(.maxLength, default: 50, in: 1...4096)
            dropout = try c.decode(.dropout, default: 0.2, in: 0...0.99)
            attentionDropout = try c.decode(.attentionDropout, default: 0.2, in: 0...0.99)
            loss = try c.decode(.loss, default: "ce")
            guard ["ce", "bce"].contains(loss) else {
                throw DecodingError.dataCorruptedError(forKey: .loss, in: c, debugDescription: "unknown value '\(loss)'; valid: ce, bce")
            }
            learningRate = try c.decode(.learningRate, default: 1e-3, in: 1e-9...10)
            weightDecay = try c.decode(.weightDecay, default: 0, in: 0...10)
            batchSize = try c.decode(.batchSize, default: 256, in: 1...1_000_000)
            epochs = try c.decode(.epochs, default: 20, in: 0...100_000)
            patience = try c.decode(.patience, default: 0, in: 0...100_000)
            initStd = try c.decode(.initStd, default: 0.02, in: 0...10)
            initialWeights = try c.decodeIfPresent(String.self, forKey: .initialWeights)
            guard hiddenSize % heads == 0 else {
                throw DecodingError.dataCorruptedError(forKey: .heads, in: c, debugDescription: "hidden_size \(hiddenSize) is not divisible by \(heads) heads")
            }
        }
    }

    public static let kind = "sasrec"
    public static let summary = "SASRec self-attentive sequential recommender (Kang & McAuley, ICDM 2018)"
    public let configuration: Configuration
    private let seed: UInt64
    private var model: SASRecModel?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
    }

    func makeModel(items: Int) -> SASRecModel {
        var rng = SplitMix64(seed: seed).derived("sasrec.init")
        let c = configuration
        return SASRecModel(
            .init(
                items: items, hidden: c.hiddenSize, inner: c.innerSize, layers: c.layers, heads: c.heads, maxLength: c.maxLength,
                dropout: Float(c.dropout), attentionDropout: Float(c.attentionDropout), layerNormEps: 1e-12),
            initStd: Float(c.initStd), rng: &rng)
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        let model = makeModel(items: data.itemCount)
        self.model = model
        let c = configuration
        if let path = c.initialWeights {
            try model.replace(with: Self.loadWeights(path, itemIDs: data.itemIDs, itemCount: data.itemCount))
            context.report(.message("SASRec: weights loaded from \(path)"))
        }
        let parameters = model.orderedParameters
        let adam = Adam(parameters: parameters, learningRate: Float(c.learningRate), weightDecay: Float(c.weightDecay))
        var rng = SplitMix64(seed: seed).derived("sasrec.train")
        let examples = c.loss == "ce" ? Self.prefixExamples(data.history) : []
        var stopping = EarlyStopping<[[Float]]>(patience: c.patience, metric: "ndcg@10")
        for epoch in 1...max(1, c.epochs) where c.epochs > 0 {
            var total = 0.0, batches = 0
            if c.loss == "ce" {
                var order = Array(examples.indices)
                order.shuffle(using: &rng)
                for start in stride(from: 0, to: order.count, by: c.batchSize) {
                    let batch = order[start..<min(order.count, start + c.batchSize)].map { examples[$0] }
                    let stepSeed = rng.next()
                    total += dataParallelStep(model: model, adam: adam, count: batch.count, seed: stepSeed) { range, weights, rng in
                        let part = batch[range]
                        let encoded = part.map { model.tokens(for: data.history[Int($0.user)][..<$0.end]) }
                        let hidden = model.lastHidden(encoded.map(\.0), lengths: encoded.map(\.1), training: true, rng: &rng, weights: weights)
                        // [B, H] x [items + 1, H]ᵀ -> [B, items + 1]
                        let logits = hidden.matmul(weights["item_embedding"]!, transposeB: true)
                        // The share's mean, weighted by its part of the batch.
                        return Loss.crossEntropy(logits, targets: part.map { data.history[Int($0.user)][$0.end] + 1 })
                            * (Float(range.count) / Float(batch.count))
                    }
                    batches += 1
                }
            } else {
                total = trainPositionsEpoch(model: model, adam: adam, data: data, rng: &rng, batches: &batches)
            }
            context.report(.epochEnd(epoch: epoch, of: c.epochs, loss: total / Double(max(1, batches))))
            if c.patience > 0 && !data.validation.isEmpty {
                let ndcg = try validationNDCG(data)
                context.report(.validation(epoch: epoch, metric: "ndcg@10", value: ndcg))
                if stopping.record(ndcg, epoch: epoch, snapshot: { parameters.map(\.data) }) {
                    context.report(.message(stopping.stopMessage))
                    break
                }
            }
        }
        if let best = stopping.best { for (parameter, weights) in zip(parameters, best.snapshot) { parameter.data = weights } }
    }

    /// One optimiser step on `count` examples, split over the cores: each share builds its own
    /// graph on parameter replicas (BLAS single-threaded meanwhile), the shares' gradients are
    /// summed, and Adam updates the parameters once. `loss` returns a share's part of the batch
    /// loss (its mean times its weight in the batch), so the parts add up to the batch's mean.
    /// The random stream of each share derives from `seed`, so the result does not depend on
    /// thread timing.
    /// - Returns: the batch's mean loss.
    private func dataParallelStep(
        model: SASRecModel, adam: Adam, count: Int, seed: UInt64,
        _ loss: @escaping @Sendable (Range<Int>, [String: Tensor], inout SplitMix64) -> Tensor
    ) -> Double {
        let shares = min(activeCores, max(1, count / 16))
        let bounds = (0...shares).map { $0 * count / shares }
        var replicas = (0..<shares).map { _ in model.replicas() }
        let losses = UncheckedSendable(UnsafeMutableBufferPointer<Double>.allocate(capacity: shares))
        defer { losses.value.deallocate() }
        do {
            let shared = replicas
            BLASThreads.single(when: shares > 1) {
                parallelChunks(shares) { share, _ in
                    var rng = SplitMix64(seed: seed).derived("share \(share)")
                    let range = bounds[share]..<bounds[share + 1]
                    let value = loss(range, shared[share], &rng)
                    value.backward()
                    losses.value[share] = Double(value.item)
                }
            }
        }
        adam.zeroGrad()
        for (name, parameter) in model.parameters {
            for replica in replicas {
                if let grad = replica[name]!.grad { parameter.accumulate(grad) }
            }
        }
        // The replicas share the parameters' storage; released, the update writes it in place
        // instead of copying each parameter first.
        replicas = []
        adam.update()
        return losses.value.reduce(0, +)
    }

    /// Paper-style training: every position of each user's (last `maxLength + 1`) items predicts
    /// the next one against one sampled negative, with binary cross-entropy.
    private func trainPositionsEpoch(model: SASRecModel, adam: Adam, data: TrainingSet, rng: inout SplitMix64, batches: inout Int) -> Double {
        let c = configuration
        var users = data.history.indices.filter { data.history[$0].count >= 2 }
        users.shuffle(using: &rng)
        let seen = data.history.map { Set($0) }
        var total = 0.0
        for start in stride(from: 0, to: users.count, by: c.batchSize) {
            let batch = Array(users[start..<min(users.count, start + c.batchSize)])
            let (inputs, positives, negatives, weights) = positionBatch(batch, model: model, data: data, seen: seen, rng: &rng)
            let denominator = weights.reduce(0, +), stepSeed = rng.next(), l = c.maxLength
            total += dataParallelStep(model: model, adam: adam, count: batch.count, seed: stepSeed) { range, parameters, rng in
                let positions = (range.lowerBound * l)..<(range.upperBound * l)
                // [b, L, H] -> [b·L, H]
                let states = model.encode(Array(inputs[range]), training: true, rng: &rng, weights: parameters).reshaped([-1, c.hiddenSize])
                let table = parameters["item_embedding"]!
                let positiveScores = (states * table.gather(rows: Array(positives[positions]))).sum(axes: [1])
                let negativeScores = (states * table.gather(rows: Array(negatives[positions]))).sum(axes: [1])
                let logits = Tensor.concat([positiveScores.reshaped([-1, 1]), negativeScores.reshaped([-1, 1])], axis: 1)
                let labels: [Float] = (0..<(2 * positions.count)).map { $0 % 2 == 0 ? 1 : 0 }
                let shareWeights = weights[positions].flatMap { w -> [Float] in [w, w] }
                // The share's mean over its real positions (every sequence has one), weighted by
                // its part of the batch's.
                let share = weights[positions].reduce(0, +)
                return Loss.binaryCrossEntropyWithLogits(logits, labels: labels, weights: shareWeights) * (share / max(denominator, 1))
            }
            batches += 1
        }
        return total
    }

    /// Token sequences of `users` (their last `maxLength + 1` items but the last), and for every
    /// position its next item, one sampled unseen negative and a weight (0 at padding).
    private func positionBatch(
        _ users: [Int], model: SASRecModel, data: TrainingSet, seen: [Set<Int32>], rng: inout SplitMix64
    ) -> (inputs: [[Int32]], positives: [Int32], negatives: [Int32], weights: [Float]) {
        var inputs: [[Int32]] = [], positives: [Int32] = [], negatives: [Int32] = [], weights: [Float] = []
        for user in users {
            let items = data.history[user].suffix(configuration.maxLength + 1)
            let (tokens, length) = model.tokens(for: items.dropLast())
            inputs.append(tokens)
            let targets = Array(items.dropFirst())
            for position in 0..<configuration.maxLength {
                if position < length {
                    positives.append(targets[position] + 1)
                    var negative: Int32
                    repeat { negative = Int32(rng.nextInt(below: data.itemCount)) } while seen[user].contains(negative) && seen[user].count < data.itemCount
                    negatives.append(negative + 1)
                    weights.append(1)
                } else {
                    positives.append(0); negatives.append(0); weights.append(0)
                }
            }
        }
        return (inputs, positives, negatives, weights)
    }

    /// The tensors of a safetensors file, the item table's rows put in the dataset's order by the
    /// file's `item_ids` metadata (a dataset item the file lacks keeps a zero row).
    static func loadWeights(_ path: String, itemIDs: [String], itemCount: Int) throws -> [String: Tensor] {
        let file = try SafetensorsFile(path: path)
        var tensors = try Dictionary(uniqueKeysWithValues: file.entries.keys.map { ($0, try file.tensor($0)) })
        guard let ids = file.metadata["item_ids"] else { return tensors }
        guard let theirs = try? JSONDecoder().decode([String].self, from: Data(ids.utf8)) else {
            throw RecError(.data, "\(path): metadata 'item_ids' is not a JSON list of strings")
        }
        guard let table = tensors["item_embedding"], table.shape.count == 2, table.shape[0] == theirs.count + 1 else {
            throw RecError(.data, "\(path): 'item_embedding' needs \(theirs.count + 1) rows (padding and one per id in 'item_ids')")
        }
        guard itemIDs.count == itemCount else { throw RecError(.plugin, "SASRec: initial_weights needs the dataset's item ids") }
        let width = table.shape[1]
        let row = Dictionary(theirs.enumerated().map { ($0.element, $0.offset + 1) }, uniquingKeysWith: { first, _ in first })
        var data = [Float](repeating: 0, count: (itemCount + 1) * width)
        for (item, id) in itemIDs.enumerated() {
            guard let source = row[id] else { continue }
            for j in 0..<width { data[(item + 1) * width + j] = table.data[source * width + j] }
        }
        tensors["item_embedding"] = Tensor(shape: [itemCount + 1, width], data: data)
        return tensors
    }

    /// (user, end): the prefix `history[user][..<end]` predicts `history[user][end]`.
    static func prefixExamples(_ history: [[Int32]]) -> [(user: Int32, end: Int)] {
        history.enumerated().flatMap { user, items in (1..<max(1, items.count)).map { (Int32(user), $0) } }
    }

    /// Full-ranking NDCG@10 on the validation items, training items excluded.
    func validationNDCG(_ data: TrainingSet) throws -> Double {
        let task = EvaluationTask.holdingOut(data.validation, known: data.history, itemCount: data.itemCount, popularity: [])
        let evaluator = RankingEvaluator(metrics: ["ndcg"], cutoffs: [10], protocol: .full, batchUsers: 512)
        let result = try evaluator.evaluate(task) { batch, out in try self.score(users: batch, history: data.history, into: out) }
        return result.aggregate[MetricKey("ndcg", 10)] ?? 0
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        guard let model else { throw RecError(.plugin, "SASRec: score called before fit") }
        let n = model.shape.items
        var rng = SplitMix64(seed: 0)
        let encoded = users.map { model.tokens(for: history[Int($0)][...]) }
        let logits = Tensor.noGrad {
            model.lastHidden(encoded.map(\.0), lengths: encoded.map { max(1, $0.1) }, training: false, rng: &rng)
                .matmul(model.parameters["item_embedding"]!, transposeB: true)
        }
        // Column 0 is the padding token; item i is column i + 1.
        for row in 0..<users.count {
            for item in 0..<n { scores[row * n + item] = logits.data[row * (n + 1) + item + 1] }
        }
    }

    public func checkpoint() throws -> [UInt8] {
        guard let model else { throw RecError(.plugin, "SASRec: nothing to checkpoint before fit") }
        return try Safetensors.encode(model.parameters, metadata: ["items": String(model.shape.items)])
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        let tensors = try Safetensors.decode(bytes, file: "SASRec checkpoint")
        guard let items = tensors["item_embedding"].map({ $0.shape[0] - 1 }) else {
            throw RecError(.plugin, "SASRec checkpoint has no item_embedding")
        }
        let model = makeModel(items: items)
        try model.replace(with: tensors)
        self.model = model
    }
}
