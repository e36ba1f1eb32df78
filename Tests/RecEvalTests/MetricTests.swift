import Foundation
import RecCore
import RecData
import Testing

@testable import RecEval

/// Every value here is worked out by hand in the comment beside it.
struct RankingMetricTests {
    // Ranked list: items 5, 3, 9, 1, 7. Relevant: {3, 7, 8}.
    let ranked: [Int32] = [5, 3, 9, 1, 7]
    let relevant: Set<Int32> = [3, 7, 8]

    func value(_ metric: String, _ k: Int) -> Double { RankingMetrics.value(metric, k: k, ranked: ranked, relevant: relevant) }

    @Test func hitRatio() {
        #expect(value("hr", 1) == 0)  // item 5 is not relevant
        #expect(value("hr", 2) == 1)  // item 3 at rank 2
    }

    @Test func recallAndPrecision() {
        #expect(value("recall", 5) == 2.0 / 3.0)  // hits 3 and 7 of 3 relevant
        #expect(value("precision", 5) == 2.0 / 5.0)
        #expect(value("precision", 2) == 0.5)
    }

    @Test func ndcg() {
        // DCG@5 = 1/log2(3) + 1/log2(6); IDCG@5 = 1 + 1/log2(3) + 1/log2(4) (three relevant).
        let dcg = 1 / log2(3.0) + 1 / log2(6.0)
        let idcg = 1 + 1 / log2(3.0) + 0.5
        #expect(abs(value("ndcg", 5) - dcg / idcg) < 1e-12)
        // @2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3).
        #expect(abs(value("ndcg", 2) - (1 / log2(3.0)) / (1 + 1 / log2(3.0))) < 1e-12)
    }

    @Test func mrrAndMap() {
        #expect(value("mrr", 5) == 0.5)  // first hit at rank 2
        #expect(value("mrr", 1) == 0)
        // AP@5 = (1/2 + 2/5) / min(3, 5)
        #expect(abs(value("map", 5) - (0.5 + 0.4) / 3) < 1e-12)
        // AP@2 = (1/2) / min(3, 2)
        #expect(abs(value("map", 2) - 0.25) < 1e-12)
    }

    @Test func singleTargetMetricsAgree() {
        // Leave-one-out: HR = Recall, NDCG = 1/log2(rank+1), MRR = 1/rank.
        let list: [Int32] = [4, 2, 8]
        #expect(RankingMetrics.value("recall", k: 3, ranked: list, relevant: [8]) == 1)
        #expect(abs(RankingMetrics.value("ndcg", k: 3, ranked: list, relevant: [8]) - 0.5) < 1e-12)
        #expect(abs(RankingMetrics.value("mrr", k: 3, ranked: list, relevant: [8]) - 1.0 / 3.0) < 1e-12)
        #expect(RankingMetrics.value("ndcg", k: 3, ranked: list, relevant: []) == 0)
    }

    @Test func aucCountsTiesAsHalf() {
        // Positive 0.5 against negatives 0.2, 0.5, 0.9: one below, one tie -> (1 + 0.5) / 3.
        #expect(RankingMetrics.auc(positives: [0.5], negatives: [0.2, 0.5, 0.9]) == 0.5)
        // Two positives 0.8 and 0.3 against 0.1, 0.3: (2 + 1.5) / 4.
        #expect(RankingMetrics.auc(positives: [0.8, 0.3], negatives: [0.1, 0.3]) == 0.875)
        #expect(RankingMetrics.auc(positives: [], negatives: [0.1]) == nil)
    }

    @Test func logLoss() {
        // sigmoid(0) = 0.5 for both: -ln 0.5 each.
        #expect(abs(RankingMetrics.logLoss(scores: [0, 0], labels: [true, false]) - log(2.0)) < 1e-12)
    }
}

struct EvaluatorTests {
    /// Three users, six items; user u's model scores are fixed rows.
    func task() -> EvaluationTask {
        EvaluationTask(
            itemCount: 6, users: [0, 1, 2],
            heldOut: [[Interaction(user: 0, item: 2, rating: 4)], [Interaction(user: 1, item: 5, rating: 2)], [Interaction(user: 2, item: 0, rating: 5)]],
            excluded: [[0], [1, 2], []], interacted: [[0, 2], [1, 2, 5], [0]], popularity: [5, 4, 3, 2, 1, 0])
    }

    let rows: [[Float]] = [
        [9, 1, 8, 7, 0, 0],  // user 0: item 0 excluded -> ranking 2, 3, 1, (4 = 5 tie -> 4 first)
        [0, 9, 9, 5, 5, 6],  // user 1: 1, 2 excluded -> 5, 3, 4, 0
        [1, 1, 1, 1, 1, 1],  // user 2: all tied -> 0, 1, 2, ...
    ]

    func score(_ users: ArraySlice<Int32>, _ out: UnsafeMutableBufferPointer<Float>) {
        for (row, user) in users.enumerated() { for i in 0..<6 { out[row * 6 + i] = rows[Int(user)][i] } }
    }

    @Test func fullRankingExcludesKnownItemsAndBreaksTiesByItemID() throws {
        for batch in [1, 2, 3] {
            let evaluator = RankingEvaluator(metrics: ["hr", "ndcg", "mrr", "coverage", "avgpop"], cutoffs: [1, 2], protocol: .full, batchUsers: batch)
            let result = try evaluator.evaluate(task(), score: score)
            #expect(result.perUser[MetricKey("hr", 1)] == [1, 1, 1], "every target is ranked first")
            #expect(result.aggregate[MetricKey("ndcg", 2)] == 1)
            // Top-2 lists: [2, 3], [5, 3], [0, 1] -> items {0, 1, 2, 3, 5} of 6.
            #expect(result.aggregate[MetricKey("coverage", 2)] == 5.0 / 6.0)
            // avgpop@1: popularity of 2, 5, 0 = 3, 0, 5.
            #expect(result.perUser[MetricKey("avgpop", 1)] == [3, 0, 5])
        }
    }

    @Test func fullRankingAUCAndRatingErrors() throws {
        let evaluator = RankingEvaluator(metrics: ["auc", "gauc", "rmse", "mae"], cutoffs: [1], protocol: .full)
        let result = try evaluator.evaluate(task(), score: score)
        // user 0: target 8 vs {1, 7, 0, 0} -> 1; user 1: 6 vs {0, 5, 5} -> 1; user 2: 1 vs five 1s -> 0.5.
        #expect(result.perUser[MetricKey("auc")] == [1, 1, 0.5])
        #expect(abs(result.aggregate[MetricKey("auc")]! - 2.5 / 3) < 1e-12)
        // gauc weights by items scored: 5, 4, 6.
        #expect(abs(result.aggregate[MetricKey("gauc")]! - (5 + 4 + 3.0) / 15) < 1e-12)
        // errors: 8-4 = 4, 6-2 = 4, 1-5 = -4 -> RMSE 4, MAE 4.
        #expect(result.aggregate[MetricKey("rmse")] == 4)
        #expect(result.aggregate[MetricKey("mae")] == 4)
    }

    @Test func sampledNegativesAreSeededAndAvoidKnownItems() throws {
        let sampler = NegativeSampler(task: task(), protocol: .sampled(negatives: 3, byPopularity: false, seed: 9))
        let a = sampler.sample(for: 1, user: 1, position: 0)
        #expect(a == sampler.sample(for: 1, user: 1, position: 0))
        #expect(a.count == 3)
        #expect(Set(a).isDisjoint(with: [1, 2, 5]))
        // Only 3 items are left for user 1, so asking for 10 gives those 3.
        let wide = NegativeSampler(task: task(), protocol: .sampled(negatives: 10, byPopularity: true, seed: 9))
        #expect(Set(wide.sample(for: 1, user: 1, position: 0)) == [0, 3, 4])
        let evaluator = RankingEvaluator(metrics: ["hr", "auc"], cutoffs: [1], protocol: .sampled(negatives: 3, byPopularity: false, seed: 9))
        let result = try evaluator.evaluate(task(), score: score)
        #expect(result.perUser[MetricKey("hr", 1)]?[0] == 1)
    }

    @Test func candidatesProtocolUsesTheReranker() throws {
        let evaluator = RankingEvaluator(metrics: ["hr"], cutoffs: [1], protocol: .candidates(k: 3))
        // Reverse the retriever's order; user 0's candidates are [2, 3, 1] -> [1, 3, 2].
        let reversed: RankingEvaluator.Reranker = { _, lists in
            lists.map { candidates in (candidates.reversed() + [99]).enumerated().map { ScoredItem(item: $0.element, score: Float(10 - $0.offset)) } }
        }
        let result = try evaluator.evaluate(task(), score: score, rerank: reversed)
        #expect(result.perUser[MetricKey("hr", 1)] == [0, 0, 0], "the re-ranked head is no longer the target; item 99 was not a candidate and is dropped")
    }

    /// With a ranker, AUC in the candidates protocol reads the ranker's scores over the
    /// candidates: reversing a retriever that put the target first turns its AUC from 1 to 0.
    @Test func rankerScoresAreKeptForScoreMetrics() throws {
        let evaluator = RankingEvaluator(metrics: ["hr", "auc"], cutoffs: [1], protocol: .candidates(k: 3))
        let plain = try evaluator.evaluate(
            task(), score: score,
            rerank: { _, lists in
                lists.map { $0.enumerated().map { ScoredItem(item: $0.element, score: Float(-$0.offset)) } }
            })
        let flipped = try evaluator.evaluate(
            task(), score: score,
            rerank: { _, lists in
                lists.map { $0.reversed().enumerated().map { ScoredItem(item: $0.element, score: Float(-$0.offset)) } }
            })
        let hits = try #require(plain.perUser[MetricKey("hr", 1)])
        for (user, hit) in hits.enumerated() where hit == 1 {
            #expect(plain.perUser[MetricKey("auc")]?[user] == 1)
            #expect(flipped.perUser[MetricKey("auc")]?[user] == 0)
        }
        #expect(hits.contains(1), "the fixture has a user whose target the retriever puts first")
    }
}

struct EvaluationTaskTests {
    @Test func testAndValidationTasksHoldOutTheRightItems() throws {
        // user 0: a, b, c, d in time order -> train a, b; validation c; test d.
        let dataset = Dataset(
            name: "t", userIDs: ["u"], itemIDs: ["a", "b", "c", "d", "e"],
            interactions: (0..<4).map { Interaction(user: 0, item: Int32($0), time: Int64($0)) },
            itemText: [], hasRatings: false, hasTimestamps: true)
        let split = try dataset.split(.leaveOneOut)
        let test = EvaluationTask.test(split), validation = EvaluationTask.validation(split)
        #expect(test.heldOut[0].map(\.item) == [3] && Set(test.excluded[0]) == [0, 1, 2])
        #expect(validation.heldOut[0].map(\.item) == [2] && Set(validation.excluded[0]) == [0, 1])
        #expect(Set(validation.interacted[0]) == [0, 1, 2, 3], "sampled negatives never include a held-out item")
        #expect(EvaluationTask.test(split, excludeKnown: false).excluded == [[]], "RecBole's sequential protocol ranks known items too")
    }
}

struct SignificanceTests {
    // Reference values from scipy 1.x: stats.ttest_rel and stats.wilcoxon(method="approx", correction=False).
    let a = [0.1, 0.4, 0.35, 0.8, 0.55, 0.2, 0.9, 0.45, 0.3, 0.6]
    let b = [0.2, 0.3, 0.3, 0.5, 0.5, 0.25, 0.6, 0.4, 0.35, 0.45]

    @Test func pairedTTestMatchesScipy() throws {
        let t = try #require(Significance.pairedTTest(a, b))
        #expect(abs(t.statistic - 1.8353258709644942) < 1e-9)
        #expect(abs(t.pValue - 0.0996490667974189) < 1e-9)
        let binary = try #require(Significance.pairedTTest([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1], [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]))
        #expect(abs(binary.pValue - 0.006872303308921113) < 1e-9)
    }

    @Test func wilcoxonMatchesScipy() throws {
        let w = try #require(Significance.wilcoxon(a, b))
        #expect(abs(w.pValue - 0.09026925313258724) < 1e-9)
        let binary = try #require(Significance.wilcoxon([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1], [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]))
        #expect(abs(binary.pValue - 0.014305878435429648) < 1e-9)
    }

    // scipy: stats.ttest_1samp(d, margin, alternative="less") on the worsening d, and its mean
    // plus stats.t.ppf(0.95, n - 1) standard errors.
    @Test func nonInferiorityMatchesScipy() throws {
        let lower = try #require(Significance.nonInferiority(a, b, margin: 0.2, higherIsBetter: false))
        #expect(abs(lower.worsening - 0.08) < 1e-12)
        #expect(abs(lower.pValue - 0.011183594840286037) < 1e-9)
        #expect(abs(lower.upper - 0.15990354025546016) < 1e-9)
        let higher = try #require(Significance.nonInferiority(a, b, margin: 0.05, higherIsBetter: true))
        #expect(abs(higher.worsening + 0.08) < 1e-12)
        #expect(abs(higher.pValue - 0.007694705430807725) < 1e-9)
        #expect(abs(higher.upper + 9.645974453983963e-05) < 1e-9)
        #expect(abs(Significance.studentQuantile(0.95, df: 9) - 1.833112932656237) < 1e-9)
        // A margin below the upper bound is not met: p >= 0.05.
        let unmet = try #require(Significance.nonInferiority(a, b, margin: 0.15, higherIsBetter: false))
        #expect(unmet.pValue > 0.05 && unmet.upper > 0.15)
        #expect(Significance.nonInferiority([1, 2], [1, 2], margin: 0.1, higherIsBetter: false)?.pValue == 0)
        #expect(Significance.nonInferiority([1], [0], margin: 0.1, higherIsBetter: false) == nil)
    }

    @Test func degenerateInputs() {
        #expect(Significance.pairedTTest([1, 2], [1, 2])?.pValue == 1)
        #expect(Significance.wilcoxon([1, 2], [1, 2]) == nil)
        #expect(Significance.pairedTTest([1], [0]) == nil)
    }
}
