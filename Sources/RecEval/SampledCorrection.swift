import Foundation

/// Krichene and Rendle's corrected sampled metrics ("On Sampled Metrics for Item
/// Recommendation", KDD 2020): a ranking metric measured on a held-out item's rank among `m`
/// uniformly sampled negatives, mapped to an estimate of the metric under full ranking.
///
/// An item with full rank R among a pool of n items (itself and n − 1 negatives) has sampled
/// rank r = 1 + j, where j, the sampled negatives ranked above it, is hypergeometric: m drawn
/// without replacement from n − 1 negatives of which R − 1 rank above. The corrected metric is
/// a value x_r for each sampled rank, chosen by the paper's bias–variance trade-off (BV) with a
/// uniform prior over R:
///
///     minimise  Σ_R (1/n) [ (E[x_r | R] − M(R))² + γ Var[x_r | R] ]
///     ⇒  ((1 − γ) AᵀA + γ diag(c)) x = Aᵀ b,   A_Rr = P(r | R)/√n,  b_R = M(R)/√n,  c_r = Σ_R P(r | R)/n
///
/// γ = 0.1, as in the paper's figures. The correction holds for metrics of one relevant item's
/// rank (hr, recall, precision, ndcg, mrr, map at a cutoff), which is what the sampled protocol
/// measures: every held-out item is ranked in a list of its own.
public struct SampledCorrection: Sendable {
    /// The pool size n and negatives m the tables were solved for.
    public let poolSize: Int, samples: Int
    /// Per metric, the corrected value per sampled rank r = 1 ... m + 1 (index r − 1).
    public let tables: [MetricKey: [Double]]

    public static let gamma = 0.1

    /// Whether `metric` at a cutoff is a function of one relevant item's rank.
    public static func corrects(_ metric: String) -> Bool { ["hr", "recall", "precision", "ndcg", "mrr", "map"].contains(metric) }

    /// The full-ranking value of `metric@k` for a relevant item at rank `rank` (1-based).
    public static func metric(_ metric: String, k: Int, rank: Int) -> Double {
        guard rank <= k else { return 0 }
        switch metric {
        case "hr", "recall": return 1
        case "precision": return 1 / Double(k)
        case "ndcg": return 1 / log2(Double(rank) + 1)
        case "mrr", "map": return 1 / Double(rank)
        default: return .nan
        }
    }

    /// Solves the corrected values of each of `metrics` (each `corrects`) for a pool of
    /// `poolSize` items and `samples` sampled negatives. The normal matrix depends only on n and
    /// m, so it is built and factored once.
    public init(metrics: [MetricKey], poolSize n: Int, samples m: Int, gamma: Double = SampledCorrection.gamma) {
        poolSize = n
        samples = m
        let width = m + 1
        var normal = [Double](repeating: 0, count: width * width)  // (1 − γ) AᵀA + γ diag(c)
        var rhs = [[Double]](repeating: [Double](repeating: 0, count: width), count: metrics.count)  // Aᵀb per metric
        var c = [Double](repeating: 0, count: width)
        let weight = 1 / Double(n)
        for rank in 1...max(1, n) {
            let p = Self.sampledRankDistribution(fullRank: rank, poolSize: n, samples: m)
            let nonzero = p.indices.filter { p[$0] > 1e-300 }
            for (index, metric) in metrics.enumerated() {
                let target = Self.metric(metric.name, k: metric.k, rank: rank)
                guard target != 0 else { continue }
                for i in nonzero { rhs[index][i] += weight * p[i] * target }
            }
            for i in nonzero {
                c[i] += weight * p[i]
                for j in nonzero { normal[i * width + j] += (1 - gamma) * weight * p[i] * p[j] }
            }
        }
        for i in 0..<width { normal[i * width + i] += gamma * c[i] + 1e-12 }
        let factor = Self.cholesky(normal, size: width)
        var tables: [MetricKey: [Double]] = [:]
        for (index, metric) in metrics.enumerated() { tables[metric] = Self.solve(factor, rhs[index], size: width) }
        self.tables = tables
    }

    /// The corrected value of `metric` for a sampled rank (1-based; ranks beyond m + 1 are
    /// clamped), nil for a metric the tables do not hold.
    public func value(_ metric: MetricKey, sampledRank r: Int) -> Double? {
        guard let table = tables[metric] else { return nil }
        return table[min(max(r, 1), table.count) - 1]
    }

    /// P(r | R) for r = 1 ... m + 1: hypergeometric in the number of sampled negatives above.
    static func sampledRankDistribution(fullRank rank: Int, poolSize n: Int, samples m: Int) -> [Double] {
        let negatives = n - 1, above = rank - 1
        let draws = min(m, negatives)
        var out = [Double](repeating: 0, count: m + 1)
        let total = logChoose(negatives, draws)
        for j in max(0, draws - (negatives - above))...min(draws, above) {
            out[j] = exp(logChoose(above, j) + logChoose(negatives - above, draws - j) - total)
        }
        return out
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n) + 1) - lgamma(Double(k) + 1) - lgamma(Double(n - k) + 1)
    }

    /// The lower Cholesky factor of a symmetric positive-definite matrix.
    static func cholesky(_ matrix: [Double], size n: Int) -> [Double] {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = matrix[i * n + j]
                for p in 0..<j { sum -= l[i * n + p] * l[j * n + p] }
                l[i * n + j] = i == j ? max(sum, 1e-300).squareRoot() : sum / l[j * n + j]
            }
        }
        return l
    }

    /// Solves `L Lᵀ x = rhs` by forward and back substitution.
    static func solve(_ l: [Double], _ rhs: [Double], size n: Int) -> [Double] {
        var y = rhs
        for i in 0..<n {
            for p in 0..<i { y[i] -= l[i * n + p] * y[p] }
            y[i] /= l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for p in (i + 1)..<n { y[i] -= l[p * n + i] * y[p] }
            y[i] /= l[i * n + i]
        }
        return y
    }
}

extension RankingEvaluator {
    /// The prefix of a stored metric name holding the corrected estimate of a sampled metric.
    public static let correctedPrefix = "corrected:"

    /// Under uniform sampling, each user's corrected estimate of every rank metric at every
    /// cutoff (`SampledCorrection`), stored as `corrected:<metric>`. The pool size is the mean
    /// over users of the items they never touched, plus the held-out item.
    func correctedSampled(_ task: EvaluationTask, _ outcomes: [UserOutcome], negatives: Int) -> [MetricKey: [Double]] {
        let keys = metrics.filter(SampledCorrection.corrects).flatMap { metric in cutoffs.map { MetricKey(metric, $0) } }
        guard !keys.isEmpty, !outcomes.isEmpty else { return [:] }
        let pools = task.interacted.map { task.itemCount - Set($0).count + 1 }
        let pool = Int((Double(pools.reduce(0, +)) / Double(pools.count)).rounded())
        let correction = SampledCorrection(metrics: keys, poolSize: max(pool, negatives + 1), samples: negatives)
        var out: [MetricKey: [Double]] = [:]
        for key in keys {
            out[MetricKey(Self.correctedPrefix + key.name, key.k)] = outcomes.enumerated().map { index, outcome in
                let lists = outcome.sampledLists
                let total = zip(lists, task.heldOut[index]).reduce(0.0) { sum, pair in
                    let rank = (pair.0.firstIndex(of: pair.1.item) ?? pair.0.count) + 1
                    return sum + (correction.value(key, sampledRank: rank) ?? 0)
                }
                return total / Double(max(1, lists.count))
            }
        }
        return out
    }
}
