/// The metric families RecLab computes, each an `Evaluator` that declares what it needs. The
/// catalogue lives beside the roles, so that specs can be checked without the evaluation code.
public enum MetricCatalog {
    public struct Definition: Evaluator {
        public var kind: String
        public var requires: Set<EvaluationInput>
        public var higherIsBetter: Bool
        public var usesCutoff: Bool
        public var summary: String
    }

    public static let all: [Definition] = [
        Definition(kind: "hr", requires: [.topK], higherIsBetter: true, usesCutoff: true, summary: "hit ratio: 1 if any held-out item is in the top K"),
        Definition(kind: "recall", requires: [.topK], higherIsBetter: true, usesCutoff: true, summary: "held-out items in the top K / held-out items"),
        Definition(kind: "precision", requires: [.topK], higherIsBetter: true, usesCutoff: true, summary: "held-out items in the top K / K"),
        Definition(kind: "ndcg", requires: [.topK], higherIsBetter: true, usesCutoff: true, summary: "normalised discounted cumulative gain, binary relevance"),
        Definition(kind: "mrr", requires: [.topK], higherIsBetter: true, usesCutoff: true, summary: "reciprocal rank of the first hit within K"),
        Definition(kind: "map", requires: [.topK], higherIsBetter: true, usesCutoff: true, summary: "average precision at the hits / min(held-out, K)"),
        Definition(kind: "coverage", requires: [.topK], higherIsBetter: true, usesCutoff: true, summary: "share of the catalogue appearing in any top-K list (aggregate only)"),
        Definition(kind: "avgpop", requires: [.topK, .itemPopularity], higherIsBetter: false, usesCutoff: true, summary: "mean training popularity of the top-K items"),
        Definition(
            kind: "auc", requires: [.labelledScores], higherIsBetter: true, usesCutoff: false,
            summary: "area under the ROC curve: per user and averaged in ranking protocols, over all test pairs in ctr and rating"),
        Definition(kind: "gauc", requires: [.labelledScores], higherIsBetter: true, usesCutoff: false, summary: "per-user AUC weighted by the user's number of scored items"),
        Definition(
            kind: "logloss", requires: [.labelledScores], higherIsBetter: false, usesCutoff: false,
            summary: "binary cross-entropy against the labels: of sigmoid(score) when ranking, of the probability in ctr"),
        Definition(kind: "rmse", requires: [.ratings], higherIsBetter: false, usesCutoff: false, summary: "root mean squared error of predicted ratings"),
        Definition(kind: "mae", requires: [.ratings], higherIsBetter: false, usesCutoff: false, summary: "mean absolute error of predicted ratings"),
    ]

    public static func definition(_ kind: String) -> Definition? { all.first { $0.kind == kind } }

    /// The definition of a stored metric's name: a metric's own, or the one a subset's name
    /// repeats (`cold:recall` is recall over the cold-start users).
    public static func definition(stored name: String) -> Definition? {
        definition(name.split(separator: ":", maxSplits: 1).last.map(String.init) ?? name)
    }
}
