import Foundation
import RecCore

/// A metric with its cutoff, as stored: `ndcg@10`, or `auc` with `k == 0`.
public struct MetricKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var name: String
    public var k: Int

    public init(_ name: String, _ k: Int = 0) {
        self.name = name
        self.k = k
    }

    public var description: String { k > 0 ? "\(name)@\(k)" : name }

    public static func < (a: MetricKey, b: MetricKey) -> Bool { (a.name, a.k) < (b.name, b.k) }
}

/// Per-user ranking metrics from a ranked list and the set of relevant (held-out) items.
public enum RankingMetrics {
    /// - Parameters:
    ///   - ranked: the recommended items, best first (at least `k` long when the catalogue allows).
    ///   - relevant: the user's held-out items.
    /// - Returns: the value of `metric` at cutoff `k`.
    public static func value(_ metric: String, k: Int, ranked: [Int32], relevant: Set<Int32>) -> Double {
        guard !relevant.isEmpty else { return 0 }
        let top = ranked.prefix(k)
        var hits = 0
        var dcg = 0.0
        var firstHit = 0
        var precisionSum = 0.0
        for (position, item) in top.enumerated() where relevant.contains(item) {
            hits += 1
            dcg += 1 / log2(Double(position) + 2)
            if firstHit == 0 { firstHit = position + 1 }
            precisionSum += Double(hits) / Double(position + 1)
        }
        switch metric {
        case "hr": return hits > 0 ? 1 : 0
        case "recall": return Double(hits) / Double(relevant.count)
        case "precision": return Double(hits) / Double(k)
        case "ndcg":
            var ideal = 0.0
            for position in 0..<min(relevant.count, k) { ideal += 1 / log2(Double(position) + 2) }
            return dcg / ideal
        case "mrr": return firstHit > 0 ? 1 / Double(firstHit) : 0
        case "map": return precisionSum / Double(min(relevant.count, k))
        default: preconditionFailure("not a per-user ranking metric: \(metric)")
        }
    }

    /// AUC of one user's scores: the share of (positive, negative) pairs ordered correctly,
    /// counting a tie as half.
    public static func auc(positives: [Float], negatives: [Float]) -> Double? {
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        let sortedNegatives = negatives.sorted()
        var credit = 0.0
        for p in positives {
            let below = lowerBound(sortedNegatives, p)
            let notAbove = upperBound(sortedNegatives, p)
            credit += Double(below) + 0.5 * Double(notAbove - below)
        }
        return credit / Double(positives.count * negatives.count)
    }

    /// Mean binary cross-entropy of `sigmoid(score)` against labels, clipped at 1e-7 like
    /// scikit-learn's `log_loss`.
    public static func logLoss(scores: [Float], labels: [Bool]) -> Double {
        var total = 0.0
        for (score, label) in zip(scores, labels) {
            let p = min(max(1 / (1 + exp(-Double(score))), 1e-7), 1 - 1e-7)
            total -= label ? log(p) : log(1 - p)
        }
        return total / Double(max(1, scores.count))
    }

    private static func lowerBound(_ a: [Float], _ x: Float) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid] < x { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    private static func upperBound(_ a: [Float], _ x: Float) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid] <= x { lo = mid + 1 } else { hi = mid } }
        return lo
    }
}
