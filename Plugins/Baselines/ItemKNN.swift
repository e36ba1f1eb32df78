import RecCore

/// Item-based k-nearest neighbours with shrunk cosine similarity.
///
/// **Paper:** Sarwar et al., "Item-based collaborative filtering recommendation algorithms",
/// WWW 2001; the shrunk cosine and top-k pruning follow Aiolli, RecSys 2013, as RecBole's
/// `ItemKNN` does.
///
/// `sim(i, j) = |U_i ∩ U_j| / (sqrt|U_i| · sqrt|U_j| + shrink + 1e-6)`, self-similarity 0; for
/// each target item j only its `neighbors` most similar items are kept; a user's score for j is
/// the sum of sim(i, j) over the items i in their history.
///
/// **Deviations:** ties among equally similar neighbours are broken by the smaller item id
/// (RecBole's `argpartition` breaks them arbitrarily).
///
/// ```yaml
/// retriever: { type: itemknn, neighbors: 100, shrink: 0 }
/// ```
public struct ItemKNN: Retriever, Trainable {
    public struct Configuration: Codable, Sendable, Equatable {
        public var neighbors: Int = 100
        public var shrink: Double = 0

        enum CodingKeys: String, CodingKey, CaseIterable { case neighbors, shrink }

        public init(neighbors: Int = 100, shrink: Double = 0) {
            self.neighbors = neighbors
            self.shrink = shrink
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            neighbors = try c.decode(.neighbors, default: 100, in: 1...1_000_000)
            shrink = try c.decode(.shrink, default: 0, in: 0...1e12)
        }
    }

    public static let kind = "itemknn"
    public static let summary = "item-based kNN, shrunk cosine similarity, top-k neighbours per item (RecBole ItemKNN)"
    public let configuration: Configuration
    /// For each source item i: the targets j that kept i as a neighbour, with sim(i, j).
    private var neighbours: [[(target: Int32, weight: Float)]] = []
    private var itemCount = 0

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        itemCount = data.itemCount
        let n = data.itemCount
        // Sorted, so float sums run in the same order in every process (Set order is randomised).
        let histories = data.history.map { Array(Set($0)).sorted() }
        var counts = [Float](repeating: 0, count: n)
        for history in histories { for item in history { counts[Int(item)] += 1 } }
        let norms = counts.map { $0.squareRoot() }
        let k = min(configuration.neighbors, n)
        let shrink = Float(configuration.shrink)
        // Users holding each item, to accumulate co-occurrence column by column.
        let holders: [[Int32]] = {
            var holders = [[Int32]](repeating: [], count: n)
            for (user, history) in histories.enumerated() { for item in history { holders[Int(item)].append(Int32(user)) } }
            return holders
        }()
        var columns = [[(Int32, Float)]](repeating: [], count: n)
        columns.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            parallelChunks(n) { chunk, chunks in
                var column = [Float](repeating: 0, count: n)
                for j in stride(from: chunk, to: n, by: chunks) {
                    for i in 0..<n { column[i] = 0 }
                    for user in holders[j] { for i in histories[Int(user)] { column[Int(i)] += 1 } }
                    column[j] = 0
                    for i in 0..<n where column[i] != 0 {
                        column[i] /= norms[j] * norms[i] + shrink + 1e-6
                    }
                    let best = column.withUnsafeBufferPointer { TopK.select($0, k: k) { _ in false } }
                    shared.value[j] = best.compactMap { column[Int($0)] != 0 ? ($0, column[Int($0)]) : nil }
                }
            }
        }
        var bySource = [[(target: Int32, weight: Float)]](repeating: [], count: n)
        for (j, column) in columns.enumerated() {
            for (i, weight) in column { bySource[Int(i)].append((Int32(j), weight)) }
        }
        neighbours = bySource
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        let n = itemCount
        for (row, user) in users.enumerated() {
            let base = row * n
            for j in 0..<n { scores[base + j] = 0 }
            for item in Array(Set(history[Int(user)])).sorted() {
                for (target, weight) in neighbours[Int(item)] { scores[base + Int(target)] += weight }
            }
        }
    }
}
