import RecCore

/// Content kNN over a derived item graph: a user's score for item j is the sum of the edge
/// weights from the items of their (last `history`) training history to j. With the graph of
/// `item_graph` over text vectors it ranks by what the items say, so it ranks items nobody
/// has interacted with as well as popular ones.
///
/// Shapes: history h [≤ history items]; graph neighbours [items × ≤ k]; scores [users × items].
///
/// ```yaml
/// derive: [{ type: item_graph, neighbours: 20 }]
/// retriever: { type: graph_knn, history: 50 }
/// ```
public struct GraphKNN: Retriever, Trainable, ReadsDerived {
    public struct Configuration: Codable, Sendable, Equatable {
        /// The most recent history items that vote (0: all of them).
        public var history = 0

        enum CodingKeys: String, CodingKey, CaseIterable { case history }

        public init(history: Int = 0) { self.history = history }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            history = try c.decode(.history, default: 0, in: 0...1_000_000)
        }
    }

    public static let kind = "graph_knn"
    public static let summary = "content kNN: scores items by the derived item graph's edges from the user's history"
    public let configuration: Configuration
    public var readsDerived: [String] { [ItemGraph.name] }
    private var graph = ItemGraph(neighbours: [], weights: [])

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard let graph = data.derived.itemGraph else {
            throw RecError(.plugin, "graph_knn needs the item graph; add a derive stage that builds it, e.g. derive: [{ type: item_graph }]")
        }
        guard graph.neighbours.count == data.itemCount else {
            throw RecError(.plugin, "graph_knn: the item graph has \(graph.neighbours.count) items, the data \(data.itemCount)")
        }
        self.graph = graph
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        let n = graph.neighbours.count
        guard scores.count == users.count * n else { throw RecError(.plugin, "graph_knn: score buffer of \(scores.count) for \(users.count) users × \(n) items") }
        for (row, user) in users.enumerated() {
            let base = row * n
            for j in 0..<n { scores[base + j] = 0 }
            let items = history[Int(user)]
            let voters = configuration.history > 0 ? items.suffix(configuration.history) : items[...]
            for source in voters where Int(source) < n {
                let targets = graph.neighbours[Int(source)], weights = graph.weights[Int(source)]
                for (target, weight) in zip(targets, weights) { scores[base + Int(target)] += weight }
            }
        }
    }
}
