/// Role: a retriever that returns a ranked list for each user instead of scoring the whole
/// catalogue (generative retrieval: beam search over semantic IDs).
public protocol ListRetriever: Component {
    /// Up to `count` distinct items for the user, best first. `history` is what the model may
    /// read about the user, as for `Retriever.score`.
    func retrieve(user: Int32, history: [Int32], count: Int) throws -> [ScoredItem]
}

/// Every ranking protocol evaluates a list retriever through this view: the listed items get
/// descending finite scores in list order and every other item `-infinity`, which the
/// evaluation treats as "not retrieved". Such an item never enters a top-K list, and a held-out
/// item the list missed ranks below every sampled negative (it is not given a lucky tie).
public struct ListRetrieverRows<Base: ListRetriever>: Retriever, RetrievesLists {
    public typealias Configuration = Base.Configuration
    public static var kind: String { Base.kind }
    public static var summary: String { Base.summary }
    public var base: Base
    public var configuration: Configuration { base.configuration }
    public var depth: Int

    public init(configuration: Configuration, context: ComponentContext) throws {
        base = try Base(configuration: configuration, context: context)
        depth = 100
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        guard !users.isEmpty else { return }
        let items = scores.count / users.count
        for index in scores.indices { scores[index] = -.infinity }
        for (row, user) in users.enumerated() {
            let list = try base.retrieve(user: user, history: history[Int(user)], count: depth)
            var seen = Set<Int32>()
            for (rank, entry) in list.enumerated() {
                guard entry.item >= 0, Int(entry.item) < items, seen.insert(entry.item).inserted else {
                    throw RecError(.plugin, "\(Base.kind) listed item \(entry.item) twice or outside the catalogue of \(items) items")
                }
                scores[row * items + Int(entry.item)] = Float(list.count - rank)
            }
        }
    }
}

extension ListRetrieverRows: Trainable where Base: Trainable {
    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws { try base.fit(data, context: context) }
}

extension ListRetrieverRows: Checkpointable where Base: Checkpointable {
    public func checkpoint() throws -> [UInt8] { try base.checkpoint() }
    public mutating func restore(from bytes: [UInt8]) throws { try base.restore(from: bytes) }
}

/// A retriever whose lists have a length the runner sets from the protocol: the deepest
/// cutoff (full ranking), the candidates handed to a ranker, or the whole catalogue (sampled
/// negatives can be any item).
public protocol RetrievesLists {
    var depth: Int { get set }
}

extension ListRetrieverRows: SequenceAware where Base: SequenceAware {}

extension ListRetrieverRows: ReadsDerived where Base: ReadsDerived {
    public var readsDerived: [String] { base.readsDerived }
}

extension ListRetrieverRows: Diagnosing where Base: Diagnosing {
    public func diagnostics() -> [String: Int] { base.diagnostics() }
    public func examples() -> [String] { base.examples() }
    public var countsNote: String? { base.countsNote }
}
