import Foundation
import RecCore
import RecTensor

/// The tensors of `RatingTransformer` and how they train and predict (see there for the shapes).
final class RatingTransformerNetwork: @unchecked Sendable {
    struct Block {
        /// `[D, D]` projections with `[D]` biases; the feed-forward `[D, 2D]` and `[2D, D]`;
        /// layer norms `[D]` after attention and after the feed-forward.
        var query: (Tensor, Tensor), key: (Tensor, Tensor), value: (Tensor, Tensor), output: (Tensor, Tensor)
        var inner: (Tensor, Tensor), outer: (Tensor, Tensor)
        var attentionNorm: (Tensor, Tensor), ffnNorm: (Tensor, Tensor)

        var parameters: [Tensor] { [query, key, value, output, inner, outer, attentionNorm, ffnNorm].flatMap { [$0.0, $0.1] } }
    }

    let length: Int, width: Int, heads: Int
    /// `[I + 1, D]` items (the last row, zero, pads), `[6, D]` ratings (0 pads; 1...5 stars),
    /// `[L, D]` positions.
    let items: Tensor, ratings: Tensor, positions: Tensor
    let blocks: [Block]
    let head: RatingHead

    var padding: Int32 { Int32(items.shape[0] - 1) }
    var parameters: [Tensor] { [items, ratings, positions] + blocks.flatMap(\.parameters) + head.parameters }

    init(_ configuration: RatingTransformer.Configuration, items itemCount: Int, ratings observed: [Interaction], seed: UInt64) {
        var rng = SplitMix64(seed: seed).derived("rating-transformer")
        let d = configuration.embedding
        (length, width, heads) = (configuration.history, d, configuration.heads)
        func linear(_ inputs: Int, _ outputs: Int) -> (Tensor, Tensor) {
            (Initializer.normal([inputs, outputs], std: (2 / Float(inputs + outputs)).squareRoot(), rng: &rng), Tensor.zeros([outputs], requiresGrad: true))
        }
        func norm() -> (Tensor, Tensor) { (Tensor(shape: [d], data: [Float](repeating: 1, count: d), requiresGrad: true), Tensor.zeros([d], requiresGrad: true)) }
        var table = Initializer.normal([itemCount + 1, d], std: 0.1, rng: &rng).data
        for j in 0..<d { table[itemCount * d + j] = 0 }
        items = Tensor(shape: [itemCount + 1, d], data: table, requiresGrad: true)
        ratings = Initializer.normal([6, d], std: 0.1, rng: &rng)
        positions = Initializer.normal([configuration.history, d], std: 0.1, rng: &rng)
        blocks = (0..<configuration.blocks).map { _ in
            Block(
                query: linear(d, d), key: linear(d, d), value: linear(d, d), output: linear(d, d), inner: linear(d, 2 * d), outer: linear(2 * d, d),
                attentionNorm: norm(), ffnNorm: norm())
        }
        head = RatingHead(inputs: 2 * d, hidden: configuration.hidden, ratings: observed, rng: &rng)
    }

    /// `[B, 1]`: μ plus the network's output for `pairs`, each reading `histories[i]` (at most
    /// `length` earlier interactions, oldest first; their ratings rounded into 1...5).
    func forward(_ pairs: [Interaction], histories: [ArraySlice<Interaction>], rng: inout SplitMix64) -> Tensor {
        let b = pairs.count, l = length, d = width
        var itemRows: [Int32] = [], ratingRows: [Int32] = [], mask: [[Bool]] = []
        for history in histories {
            let recent = history.suffix(l), pad = l - recent.count
            itemRows += [Int32](repeating: padding, count: pad) + recent.map(\.item)
            ratingRows += [Int32](repeating: 0, count: pad) + recent.map { Int32(max(1, min(5, $0.rating.rounded()))) }
            mask.append([Bool](repeating: true, count: pad) + [Bool](repeating: false, count: recent.count))
        }
        let positionRows = (0..<b).flatMap { _ in (0..<Int32(l)).map { $0 } }
        var x = (items.gather(rows: itemRows, skipping: padding) + ratings.gather(rows: ratingRows) + positions.gather(rows: positionRows)).reshaped([b, l, d])
        for block in blocks {
            let q = x.linear(block.query.0, block.query.1), k = x.linear(block.key.0, block.key.1), v = x.linear(block.value.0, block.value.1)
            let attended = Tensor.attention(q: q, k: k, v: v, heads: heads, causal: false, keyPadding: mask, rng: &rng).linear(block.output.0, block.output.1)
            x = (attended + x).layerNorm(gamma: block.attentionNorm.0, beta: block.attentionNorm.1, eps: 1e-6)
            let ffn = x.linearReLU(block.inner.0, block.inner.1).linear(block.outer.0, block.outer.1)
            x = (ffn + x).layerNorm(gamma: block.ffnNorm.0, beta: block.ffnNorm.1, eps: 1e-6)
        }
        let last = x.slice(axis: 1, (l - 1)..<l).reshaped([b, d])
        let candidates = items.gather(rows: pairs.map { $0.item >= 0 && $0.item < padding ? $0.item : padding }, skipping: padding)
        return head(Tensor.concat([last, candidates], axis: 1))
    }

    func predict(_ pairs: [Interaction], timeline: Timeline) -> [Float] {
        guard !pairs.isEmpty else { return [] }
        var rng = SplitMix64(seed: 0)
        var out: [Float] = []
        for start in stride(from: 0, to: pairs.count, by: 1024) {
            let batch = Array(pairs[start..<min(pairs.count, start + 1024)])
            let values = Tensor.noGrad { forward(batch, histories: batch.map { timeline.before($0, limit: length) }, rng: &rng).data }
            out += values.map(head.clipped)
        }
        return out
    }

    /// `SquaredErrorTraining` with Adam; each training rating reads the interactions before it
    /// in `timeline`, and each validation rating those before it among all but the test ones.
    func train(on data: TrainingSet, timeline: Timeline, configuration: RatingTransformer.Configuration, context: TrainingContext) throws {
        let adam = Adam(parameters: parameters, learningRate: Float(configuration.learningRate))
        let histories = data.interactions.map { timeline.before($0, limit: length) }
        let validationTimeline = Timeline(userCount: data.userCount, data.historyOnly + data.interactions + data.validation)
        var rng = SplitMix64(seed: 0)
        let training = SquaredErrorTraining(name: RatingTransformer.kind, epochs: configuration.epochs, batchSize: configuration.batchSize, patience: configuration.patience)
        try training.run(data, parameters: parameters, optimiser: adam, context: context) { indices in
            forward(indices.map { data.interactions[$0] }, histories: indices.map { histories[$0] }, rng: &rng)
        } validate: {
            predict(data.validation, timeline: validationTimeline)
        }
    }
}
