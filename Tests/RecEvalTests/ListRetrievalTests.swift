import RecCore
import Testing
@testable import RecEval

/// Returns a fixed list per user: user u's list is `lists[u]`, cut at `count`.
struct FixedLists: ListRetriever {
    struct Configuration: Codable, Sendable, Equatable {}
    static let kind = "fixed-lists"
    static let summary = "fixed lists for tests"
    let configuration = Configuration()
    var lists: [[Int32]] = [[2, 3], [3], []]
    init(configuration: Configuration, context: ComponentContext) throws {}
    func retrieve(user: Int32, history: [Int32], count: Int) throws -> [ScoredItem] {
        lists[Int(user)].prefix(count).map { ScoredItem(item: $0, score: 0) }
    }
}

struct ListRetrievalTests {
    func task() -> EvaluationTask {
        EvaluationTask(
            itemCount: 6, users: [0, 1, 2],
            heldOut: [[Interaction(user: 0, item: 3)], [Interaction(user: 1, item: 5)], [Interaction(user: 2, item: 0)]],
            excluded: [[], [], []], interacted: [[3], [5], [0]], popularity: [1, 1, 1, 1, 1, 1])
    }

    func rows(_ depth: Int) throws -> RankingEvaluator.Scorer {
        var retriever = try ListRetrieverRows<FixedLists>(configuration: .init(), context: ComponentContext(seed: 0))
        retriever.depth = depth
        let fixed = retriever
        return { users, buffer in try fixed.score(users: users, history: [[], [], []], into: buffer) }
    }

    /// Full ranking reads the list's order; items the list misses are never ranked, so a list
    /// shorter than K cannot hit by a tie (user 2's empty list and its item 0 with id order).
    @Test func fullRankingReadsTheListAndNeverRanksMissedItems() throws {
        let result = try RankingEvaluator(metrics: ["hr", "mrr"], cutoffs: [5], protocol: .full).evaluate(task(), score: rows(5))
        #expect(result.perUser[MetricKey("hr", 5)] == [1, 0, 0])
        #expect(result.perUser[MetricKey("mrr", 5)] == [0.5, 0, 0])
    }

    /// Sampled negatives: a held-out item the list missed ranks below every negative, listed or
    /// not (user 1: item 5 unlisted, 3 listed; user 2: nothing listed, item 0 would win an id tie).
    @Test func sampledProtocolGivesMissesNoLuckyTie() throws {
        let result = try RankingEvaluator(metrics: ["hr"], cutoffs: [1], protocol: .sampled(negatives: 3, byPopularity: false, seed: 1))
            .evaluate(task(), score: rows(6))
        #expect(result.perUser[MetricKey("hr", 1)]?[1] == 0)
        #expect(result.perUser[MetricKey("hr", 1)]?[2] == 0)
    }

    @Test func aListWithRepeatsOrForeignItemsIsAnError() throws {
        var retriever = try ListRetrieverRows<FixedLists>(configuration: .init(), context: ComponentContext(seed: 0))
        retriever.base.lists = [[1, 1], [], []]
        var buffer = [Float](repeating: 0, count: 6)
        #expect(throws: RecError.self) { try buffer.withUnsafeMutableBufferPointer { try retriever.score(users: [0], history: [[]], into: $0) } }
        retriever.base.lists = [[9], [], []]
        #expect(throws: RecError.self) { try buffer.withUnsafeMutableBufferPointer { try retriever.score(users: [0], history: [[]], into: $0) } }
    }

    @Test func theRegistryServesAListRetrieverAsARetriever() throws {
        var registry = Registry()
        try registry.register(FixedLists.self)
        let (made, _) = try registry.makeRetriever(kind: "fixed-lists", configuration: DefaultConfiguration(), context: ComponentContext(seed: 0))
        #expect(made is any RetrievesLists)
    }
}
