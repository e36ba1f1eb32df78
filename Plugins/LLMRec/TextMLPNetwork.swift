import Foundation
import RecCore
import RecTensor

/// The tensors of `TextMLP` and how they train and score (see there for the shapes).
final class TextMLPNetwork: @unchecked Sendable {
    let userSide: TextMLP.Side, itemSide: TextMLP.Side
    let userCount: Int, itemCount: Int
    /// `[U, D]` (user: id), `[I, D]` (item: id), `[I, K]` fixed text vectors (item: text).
    let userTable: Tensor?, itemTable: Tensor?, itemVectors: Tensor?
    /// `(weight [in, out], bias [out])` per layer; the first reads `[user, item]`, the last has one output.
    let layers: [(weight: Tensor, bias: Tensor)]

    var itemWidth: Int { (itemVectors ?? itemTable)!.shape[1] }
    var userWidth: Int { userTable?.shape[1] ?? itemWidth }
    var parameters: [Tensor] { [userTable, itemTable].compactMap { $0 } + layers.flatMap { [$0.weight, $0.bias] } }

    init(_ configuration: TextMLP.Configuration, users: Int, items: Int, itemVectors vectors: [Float], vectorWidth: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed).derived("llmrec-mlp")
        let d = configuration.embedding
        userSide = configuration.user
        itemSide = configuration.item
        userCount = users
        itemCount = items
        userTable = configuration.user == .id ? Initializer.normal([users, d], std: 0.1, rng: &rng) : nil
        itemTable = configuration.item == .id ? Initializer.normal([items, d], std: 0.1, rng: &rng) : nil
        itemVectors = configuration.item == .text ? Tensor(shape: [items, vectorWidth], data: vectors) : nil
        let itemWidth = configuration.item == .text ? vectorWidth : d
        var width = (configuration.user == .id ? d : itemWidth) + itemWidth
        var layers: [(Tensor, Tensor)] = []
        for size in configuration.hidden + [1] {
            layers.append((Initializer.normal([width, size], std: (2 / Float(width + size)).squareRoot(), rng: &rng), Tensor.zeros([size], requiresGrad: true)))
            width = size
        }
        self.layers = layers
    }

    /// `[B, itemWidth]` for items.
    func items(_ ids: [Int32]) -> Tensor { (itemVectors ?? itemTable)!.gather(rows: ids) }

    /// `[B, userWidth]`: the id embedding, or the mean of the history's item representations
    /// (`leaving` one item out of each, the training pair's own, so that a positive is not
    /// part of its own user; an empty history gives zeros).
    func users(_ ids: [Int32], history: [[Int32]], leaving: [Int32]? = nil) -> Tensor {
        if let userTable { return userTable.gather(rows: ids) }
        var rows: [Int32] = [], weights: [Float] = [], starts: [Int32] = [0]
        for (index, user) in ids.enumerated() {
            let past = Int(user) < history.count ? history[Int(user)].filter { leaving == nil || $0 != leaving![index] } : []
            rows += past
            weights += [Float](repeating: 1 / Float(max(1, past.count)), count: past.count)
            starts.append(Int32(rows.count))
        }
        return (itemVectors ?? itemTable)!.embeddingBag(rows: rows, weights: weights, starts: starts)
    }

    /// `[B, 1]` logits for `[B, userWidth]` and `[B, itemWidth]`. The first layer is applied
    /// as `u W_u + v W_v + b` (`W_u`, `W_v` the rows of its weight that read each side), which
    /// equals `[u, v] W + b`, so that a training step computes no gradient for fixed text
    /// vectors (`[B, K]`, K up to three encoder widths) where only the user's `[B, D]` needs one.
    func logits(_ u: Tensor, _ v: Tensor) -> Tensor {
        var h = firstLayer(users: u) + v.matmul(itemWeight)
        for layer in layers.dropFirst() { h = h.relu().linear(layer.weight, layer.bias) }
        return h
    }

    /// `[B, h0]`: `u W_u + b`.
    func firstLayer(users u: Tensor) -> Tensor { u.linear(layers[0].weight.slice(axis: 0, 0..<userWidth), layers[0].bias) }

    /// `[itemWidth, h0]`: `W_v`.
    var itemWeight: Tensor { layers[0].weight.slice(axis: 0, userWidth..<layers[0].weight.shape[0]) }

    /// Every training interaction as a positive and `negatives` uniform items the user has not
    /// had as negatives, in seeded shuffled batches, with Adam.
    func train(on data: TrainingSet, configuration: TextMLP.Configuration, context: TrainingContext) throws {
        let adam = Adam(parameters: parameters, learningRate: Float(configuration.learningRate), weightDecay: Float(configuration.weightDecay), decoupledWeightDecay: true)
        let seen = data.history.map(Set.init)
        var rng = SplitMix64(seed: context.seed).derived("llmrec-mlp-train")
        var order = Array(data.interactions.indices)
        for epoch in 1...max(1, configuration.epochs) where configuration.epochs > 0 {
            order.shuffle(using: &rng)
            var total = 0.0, batches = 0
            for start in stride(from: 0, to: order.count, by: configuration.batchSize) {
                var users: [Int32] = [], items: [Int32] = [], labels: [Float] = [], leaving: [Int32] = []
                for index in order[start..<min(order.count, start + configuration.batchSize)] {
                    let pair = data.interactions[index]
                    users.append(pair.user); items.append(pair.item); labels.append(1); leaving.append(pair.item)
                    for _ in 0..<configuration.negatives {
                        var negative = Int32(rng.next() % UInt64(itemCount))
                        for _ in 0..<20 where seen[Int(pair.user)].contains(negative) { negative = Int32(rng.next() % UInt64(itemCount)) }
                        users.append(pair.user); items.append(negative); labels.append(0); leaving.append(pair.item)
                    }
                }
                adam.zeroGrad()
                let loss = Loss.binaryCrossEntropyWithLogits(logits(self.users(users, history: data.history, leaving: leaving), self.items(items)), labels: labels)
                loss.backward()
                adam.update()
                guard loss.item.isFinite else { throw RecError(.plugin, "llmrec.mlp diverged at epoch \(epoch); lower learning_rate") }
                total += Double(loss.item)
                batches += 1
            }
            context.report(.epochEnd(epoch: epoch, of: configuration.epochs, loss: total / Double(max(1, batches))))
        }
    }

    /// Every item's score for each user: `v W_v` once, then per user the rest of the network.
    func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) {
        Tensor.noGrad {
            let itemPart = items((0..<Int32(itemCount)).map { $0 }).matmul(itemWeight)  // [I, h0]
            let userPart = firstLayer(users: self.users(Array(users), history: history))  // [B, h0]
            let h0 = itemPart.shape[1]
            for (row, _) in users.enumerated() {
                var h = itemPart.addingRowVector(Tensor(shape: [h0], data: Array(userPart.data[row * h0..<(row + 1) * h0])))
                for layer in layers.dropFirst() { h = h.relu().linear(layer.weight, layer.bias) }
                for (item, value) in h.data.enumerated() { scores[row * itemCount + item] = value }
            }
        }
    }

    func checkpoint() -> [UInt8] {
        var writer = CheckpointWriter()
        for count in [userCount, itemCount, userTable?.shape[1] ?? 0, itemTable?.shape[1] ?? 0, itemVectors?.shape[1] ?? 0] { writer.int(count) }
        writer.int(layers.count)
        for layer in layers { writer.int(layer.weight.shape[0]); writer.int(layer.weight.shape[1]) }
        for tensor in parameters + [itemVectors].compactMap({ $0 }) { writer.floats(tensor.data) }
        return writer.bytes
    }

    convenience init(restoring bytes: [UInt8], configuration: TextMLP.Configuration) throws {
        var reader = CheckpointReader(bytes, model: TextMLP.kind)
        let (users, items) = (try reader.count(atMost: 100_000_000), try reader.count(atMost: 100_000_000))
        let (userWidth, itemWidth, vectorWidth) = (try reader.count(atMost: 65_536), try reader.count(atMost: 65_536), try reader.count(atMost: 1_000_000))
        var outputs: [Int] = []
        for _ in 0..<(try reader.count(atMost: 16)) {
            _ = try reader.int()
            outputs.append(try reader.int())
        }
        guard (userWidth > 0) == (configuration.user == .id), (itemWidth > 0) == (configuration.item == .id), (vectorWidth > 0) == (configuration.item == .text),
            outputs == configuration.hidden + [1], userWidth == 0 || userWidth == configuration.embedding, itemWidth == 0 || itemWidth == configuration.embedding
        else { throw RecError(.plugin, "llmrec.mlp checkpoint was written for another configuration") }
        self.init(configuration, users: users, items: items, itemVectors: [Float](repeating: 0, count: items * vectorWidth), vectorWidth: vectorWidth, seed: 0)
        for tensor in parameters + [itemVectors].compactMap({ $0 }) {
            let values = try reader.floats()
            guard values.count == tensor.count else { throw RecError(.plugin, "llmrec.mlp checkpoint holds \(values.count) values where \(tensor.count) belong") }
            tensor.data = values
        }
        try reader.finish()
    }
}
