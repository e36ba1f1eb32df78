import Dispatch
import Foundation
import RecCore

/// The evaluation protocol, printed next to every number in a report.
public enum EvaluationProtocol: Sendable, Equatable {
    /// Rank the whole catalogue, excluding the user's known items.
    case full
    /// Rank each held-out item against `negatives` sampled items the user never touched.
    case sampled(negatives: Int, byPopularity: Bool, seed: UInt64)
    /// The retriever's top `k` (known items excluded) are re-ranked by the ranker.
    case candidates(k: Int)

    public var description: String {
        switch self {
        case .full: return "full ranking over all items, the user's training and validation items excluded"
        case .sampled(let n, let pop, let seed): return "each held-out item ranked against \(n) sampled negatives (\(pop ? "popularity-weighted" : "uniform"), seed \(seed))"
        case .candidates(let k):
            return
                "the retriever's top \(k) candidates (known items excluded) re-ranked; a held-out item outside them is a miss, so metrics at cutoffs up to \(k) equal full ranking's with the rest of the catalogue in the retriever's order"
        }
    }
}

/// What one evaluation needs to know about the users being evaluated.
public struct EvaluationTask: Sendable {
    public var itemCount: Int
    /// Users with held-out items, ascending.
    public var users: [Int32]
    /// Held-out items (with ratings) per evaluated user, aligned with `users`.
    public var heldOut: [[Interaction]]
    /// Items never to recommend per evaluated user (training, and validation at test time).
    public var excluded: [[Int32]]
    /// Every item the user interacted with in any split (sampled negatives avoid them).
    public var interacted: [[Int32]]
    /// Training interactions per item.
    public var popularity: [Int]

    public init(itemCount: Int, users: [Int32], heldOut: [[Interaction]], excluded: [[Int32]], interacted: [[Int32]], popularity: [Int]) {
        self.itemCount = itemCount
        self.users = users
        self.heldOut = heldOut
        self.excluded = excluded
        self.interacted = interacted
        self.popularity = popularity
    }

    /// The test task of a split: held-out test items, training and validation items excluded
    /// (none excluded when `excludeKnown` is false).
    public static func test(_ split: SplitData, excludeKnown: Bool = true) -> EvaluationTask {
        var task = make(split, heldOut: split.test, excludeValidation: true)
        if !excludeKnown { task.excluded = task.excluded.map { _ in [] } }
        return task
    }

    /// A seeded sample of `count` of the users (all of them when `count` is 0 or at least their
    /// number), kept in ascending order. Every cell given the same seed sees the same users, so
    /// paired tests still pair.
    public func sampling(users count: Int, seed: UInt64) -> EvaluationTask {
        guard let kept = sampledUsers(count, of: users.count, seed: seed) else { return self }
        var task = self
        task.users = kept.map { users[$0] }
        task.heldOut = kept.map { heldOut[$0] }
        task.excluded = kept.map { excluded[$0] }
        task.interacted = kept.map { interacted[$0] }
        return task
    }

    /// The validation task: held-out validation items, training items excluded.
    public static func validation(_ split: SplitData) -> EvaluationTask { make(split, heldOut: split.validation, excludeValidation: false) }

    private static func make(_ split: SplitData, heldOut: [Interaction], excludeValidation: Bool) -> EvaluationTask {
        var known = split.trainHistory
        if excludeValidation { for event in split.validation { known[Int(event.user)].append(event.item) } }
        return holdingOut(
            heldOut, known: known, alsoInteracted: excludeValidation ? [] : split.test,
            itemCount: split.dataset.itemCount, popularity: split.trainingSet.itemPopularity)
    }

    /// The task of ranking `heldOut` items for their users, with `known[u]` excluded from user
    /// u's ranking. Sampled negatives avoid the known items, the held-out items and
    /// `alsoInteracted` (items held out for another phase).
    public static func holdingOut(
        _ heldOut: [Interaction], known: [[Int32]], alsoInteracted other: [Interaction] = [], itemCount: Int, popularity: [Int]
    ) -> EvaluationTask {
        var held = [[Interaction]](repeating: [], count: known.count)
        for event in heldOut { held[Int(event.user)].append(event) }
        var all = known
        for event in heldOut + other { all[Int(event.user)].append(event.item) }
        let users = known.indices.filter { !held[$0].isEmpty }
        return EvaluationTask(
            itemCount: itemCount, users: users.map { Int32($0) }, heldOut: users.map { held[$0] },
            excluded: users.map { known[$0] }, interacted: users.map { all[$0] }, popularity: popularity)
    }
}

/// Per-user values and aggregates of one evaluation.
public struct EvaluationResult: Sendable {
    public var users: [Int32]
    /// Per-user values, aligned with `users` (NaN where a metric is undefined for a user).
    public var perUser: [MetricKey: [Double]]
    public var aggregate: [MetricKey: Double]
}

/// Scores users in batches and computes the requested metrics.
public struct RankingEvaluator: Sendable {
    public var metrics: [String]
    public var cutoffs: [Int]
    public var protocolKind: EvaluationProtocol
    /// Users scored at once; the score buffer is at most `batchUsers x itemCount` floats, and
    /// shrinks further to stay under `maxBufferBytes`.
    public var batchUsers: Int
    public var maxBufferBytes: Int = 256 << 20

    public typealias Scorer = (ArraySlice<Int32>, UnsafeMutableBufferPointer<Float>) throws -> Void
    /// Orders each user's candidates, best first, with the ranker's scores (kept: in the
    /// candidates protocol, score-based metrics such as AUC read them, not the retriever's).
    /// It is handed many users at once (`rerankUsers`), so an LLM ranker can batch its calls.
    public typealias Reranker = (_ users: [Int32], _ candidates: [[Int32]]) throws -> [[ScoredItem]]
    /// Users handed to the reranker at once: enough to fill a local engine's slots or a
    /// server's requests in flight, few enough for progress to move.
    public var rerankUsers = 32

    /// The inputs the requested metrics declare they need.
    var inputs: Set<EvaluationInput> {
        metrics.reduce(into: []) { $0.formUnion(MetricCatalog.definition($1)?.requires ?? []) }
    }

    public init(metrics: [String], cutoffs: [Int], protocol kind: EvaluationProtocol, batchUsers: Int = 512) {
        self.metrics = metrics
        self.cutoffs = cutoffs.sorted()
        self.protocolKind = kind
        self.batchUsers = batchUsers
    }

    /// Evaluates a model given by its batch `score` function (and an optional re-ranker for the
    /// candidates protocol). `progress` is called with (users done, users total).
    public func evaluate(
        _ task: EvaluationTask, score: Scorer, rerank: Reranker? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> EvaluationResult {
        let n = task.itemCount
        if case .sampled(let negatives, _, _) = protocolKind, negatives >= n {
            throw RecError(
                .spec, "\(negatives) sampled negatives per held-out item need a catalogue of more than \(negatives) items; this one has \(n)",
                key: "evaluation.negatives")
        }
        let batch = max(1, min(batchUsers, maxBufferBytes / max(1, n * MemoryLayout<Float>.size)))
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: batch * n)
        defer { buffer.deallocate() }
        let sampler = NegativeSampler(task: task, protocol: protocolKind)
        var outcomes = [UserOutcome](repeating: UserOutcome(), count: task.users.count)
        let depth: Int = {
            if case .candidates(let k) = protocolKind { return k }
            return cutoffs.last ?? 10
        }()
        var start = 0
        while start < task.users.count {
            let end = min(task.users.count, start + batch)
            let users = task.users[start..<end]
            let rows = UnsafeMutableBufferPointer(rebasing: buffer[0..<(users.count * n)])
            try score(users, rows)
            // Per-user work is independent: split it over the cores. Scoring above uses BLAS
            // threads; the two phases never overlap.
            outcomes.withUnsafeMutableBufferPointer { out in
                let shared = UncheckedSendable((out: out, rows: rows))
                let first = start, userCount = users.count
                parallelChunks(userCount) { chunk, chunks in
                    for offset in stride(from: chunk, to: userCount, by: chunks) {
                        let index = first + offset
                        let row = UnsafeBufferPointer(rebasing: shared.value.rows[(offset * n)..<((offset + 1) * n)])
                        shared.value.out[index] = outcome(task: task, index: index, row: row, depth: depth, sampler: sampler)
                    }
                }
            }
            if let rerank, case .candidates = protocolKind {
                for group in stride(from: start, to: end, by: rerankUsers) {
                    let indices = Array(group..<min(end, group + rerankUsers))
                    let answers = try rerank(indices.map { task.users[$0] }, indices.map { outcomes[$0].ranked })
                    guard answers.count == indices.count else {
                        throw RecError(.plugin, "the ranker returned \(answers.count) lists for \(indices.count) users")
                    }
                    for (index, answer) in zip(indices, answers) { rerankOutcome(&outcomes[index], answer, heldOut: task.heldOut[index]) }
                    if indices.last! + 1 < end { progress(indices.last! + 1, task.users.count) }
                }
            }
            start = end
            progress(start, task.users.count)
        }
        return summarise(task, outcomes)
    }

    /// A user's outcome after the ranker: its order over the candidates (items it names that
    /// were not candidates, or names twice, are dropped), and its scores where metrics read them.
    func rerankOutcome(_ outcome: inout UserOutcome, _ answer: [ScoredItem], heldOut: [Interaction]) {
        let allowed = Set(outcome.ranked)
        var seen = Set<Int32>()
        let reordered = answer.filter { allowed.contains($0.item) && seen.insert($0.item).inserted }
        outcome.ranked = reordered.map(\.item)
        if inputs.contains(.labelledScores) {
            let held = Set(heldOut.map(\.item))
            outcome.positives = reordered.filter { held.contains($0.item) }.map(\.score)
            outcome.negatives = reordered.filter { !held.contains($0.item) }.map(\.score)
        }
    }

    struct UserOutcome {
        var ranked: [Int32] = []
        var positives: [Float] = []
        var negatives: [Float] = []
        var ratingErrors: [Double] = []
        /// For sampled protocols, one ranked list per held-out item.
        var sampledLists: [[Int32]] = []
    }

    private func outcome(task: EvaluationTask, index: Int, row: UnsafeBufferPointer<Float>, depth: Int, sampler: NegativeSampler) -> UserOutcome {
        var result = UserOutcome()
        let needLabels = inputs.contains(.labelledScores)
        let held = task.heldOut[index]
        if inputs.contains(.ratings) {
            result.ratingErrors = held.map { Double(row[Int($0.item)]) - Double($0.rating) }
        }
        switch protocolKind {
        case .full, .candidates:
            var mask = [Bool](repeating: false, count: row.count)
            for item in task.excluded[index] { mask[Int(item)] = true }
            // -infinity marks an item a list retriever did not retrieve: it is never ranked.
            result.ranked = TopK.select(row, k: depth, excluded: { mask[$0] || row[$0] == -.infinity })
            if needLabels {
                var isHeld = [Bool](repeating: false, count: row.count)
                for event in held { isHeld[Int(event.item)] = true }
                for item in 0..<row.count where !mask[item] {
                    if isHeld[item] { result.positives.append(row[item]) } else { result.negatives.append(row[item]) }
                }
            }
        case .sampled:
            let user = task.users[index]
            for (position, event) in held.enumerated() {
                let negatives = sampler.sample(for: index, user: user, position: position)
                var list = [event.item] + negatives
                // Ties break by item id, except among items a list retriever did not retrieve
                // (-infinity): there the held-out item ranks last, so a miss is never a lucky hit.
                func key(_ item: Int32) -> (Float, Int, Int32) {
                    (row[Int(item)], row[Int(item)] == -.infinity && item == event.item ? 0 : 1, -item)
                }
                list.sort { key($0) > key($1) }
                result.sampledLists.append(list)
                result.positives.append(row[Int(event.item)])
                result.negatives += negatives.map { row[Int($0)] }
            }
        }
        return result
    }

    private func summarise(_ task: EvaluationTask, _ outcomes: [UserOutcome]) -> EvaluationResult {
        var perUser: [MetricKey: [Double]] = [:]
        var aggregate: [MetricKey: Double] = [:]
        let count = Double(max(1, outcomes.count))
        for metric in metrics {
            guard let definition = MetricCatalog.definition(metric) else { continue }
            if definition.usesCutoff {
                for k in cutoffs {
                    let key = MetricKey(metric, k)
                    switch metric {
                    case "coverage":
                        var seen = Set<Int32>()
                        for outcome in outcomes { seen.formUnion(topList(outcome).prefix(k)) }
                        aggregate[key] = Double(seen.count) / Double(max(1, task.itemCount))
                    case "avgpop":
                        let values = outcomes.map { outcome -> Double in
                            let top = topList(outcome).prefix(k)
                            return top.isEmpty ? 0 : top.reduce(0.0) { $0 + Double(task.popularity[Int($1)]) } / Double(top.count)
                        }
                        perUser[key] = values
                        aggregate[key] = values.reduce(0, +) / count
                    default:
                        let values = outcomes.enumerated().map { index, outcome -> Double in
                            if case .sampled = protocolKind {
                                // One list per held-out item; the user's value is their mean.
                                let lists = outcome.sampledLists
                                let total = zip(lists, task.heldOut[index]).reduce(0.0) {
                                    $0 + RankingMetrics.value(metric, k: k, ranked: $1.0, relevant: [$1.1.item])
                                }
                                return total / Double(max(1, lists.count))
                            }
                            return RankingMetrics.value(metric, k: k, ranked: outcome.ranked, relevant: Set(task.heldOut[index].map(\.item)))
                        }
                        perUser[key] = values
                        aggregate[key] = values.reduce(0, +) / count
                    }
                }
            } else {
                let key = MetricKey(metric)
                switch metric {
                case "auc", "gauc":
                    let values = outcomes.map { RankingMetrics.auc(positives: $0.positives, negatives: $0.negatives) ?? .nan }
                    perUser[key] = values
                    let weights = outcomes.map { Double($0.positives.count + $0.negatives.count) }
                    let valid = values.indices.filter { !values[$0].isNaN }
                    if metric == "auc" {
                        aggregate[key] = valid.reduce(0.0) { $0 + values[$1] } / Double(max(1, valid.count))
                    } else {
                        let weight = valid.reduce(0.0) { $0 + weights[$1] }
                        aggregate[key] = valid.reduce(0.0) { $0 + values[$1] * weights[$1] } / max(1, weight)
                    }
                case "logloss":
                    var total = 0.0, pairs = 0
                    perUser[key] = outcomes.map { outcome in
                        let scores = outcome.positives + outcome.negatives
                        let labels = outcome.positives.map { _ in true } + outcome.negatives.map { _ in false }
                        let value = RankingMetrics.logLoss(scores: scores, labels: labels)
                        total += value * Double(scores.count)
                        pairs += scores.count
                        return value
                    }
                    aggregate[key] = total / Double(max(1, pairs))
                case "rmse", "mae":
                    let square = metric == "rmse"
                    var total = 0.0, errors = 0
                    perUser[key] = outcomes.map { outcome in
                        let sum = outcome.ratingErrors.reduce(0.0) { $0 + (square ? $1 * $1 : abs($1)) }
                        total += sum
                        errors += outcome.ratingErrors.count
                        let mean = sum / Double(max(1, outcome.ratingErrors.count))
                        return square ? mean.squareRoot() : mean
                    }
                    let mean = total / Double(max(1, errors))
                    aggregate[key] = square ? mean.squareRoot() : mean
                default:
                    break
                }
            }
        }
        if case .sampled(let negatives, false, _) = protocolKind {
            for (key, values) in correctedSampled(task, outcomes, negatives: negatives) {
                perUser[key] = values
                aggregate[key] = values.reduce(0, +) / count
            }
        }
        return EvaluationResult(users: task.users, perUser: perUser, aggregate: aggregate)
    }

    private func topList(_ outcome: UserOutcome) -> [Int32] {
        if case .sampled = protocolKind { return outcome.sampledLists.first ?? [] }
        return outcome.ranked
    }
}

/// Draws sampled-protocol negatives: seeded per (user, held-out position), so the draws do not
/// depend on batch size, thread count or which model is evaluated.
struct NegativeSampler: @unchecked Sendable {
    let task: EvaluationTask
    let count: Int
    let seed: UInt64
    /// Cumulative popularity (+1 smoothing) for popularity-weighted draws; empty for uniform.
    let cumulative: [Double]

    init(task: EvaluationTask, protocol kind: EvaluationProtocol) {
        self.task = task
        if case .sampled(let n, let byPopularity, let seed) = kind {
            count = n
            self.seed = seed
            var running = 0.0
            cumulative =
                byPopularity
                ? task.popularity.map {
                    running += Double($0 + 1); return running
                } : []
        } else {
            count = 0
            seed = 0
            cumulative = []
        }
    }

    func sample(for index: Int, user: Int32, position: Int) -> [Int32] {
        var rng = SplitMix64(seed: seed ^ (UInt64(UInt32(bitPattern: user)) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(position) << 48)
        let seen = Set(task.interacted[index])
        let available = task.itemCount - seen.count
        let wanted = min(count, available)
        var chosen = Set<Int32>()
        var ordered: [Int32] = []
        while ordered.count < wanted {
            let item: Int32
            if cumulative.isEmpty {
                item = Int32(rng.nextInt(below: task.itemCount))
            } else {
                let target = Double(rng.next() >> 11) / Double(1 << 53) * cumulative[cumulative.count - 1]
                var lo = 0, hi = cumulative.count - 1
                while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] <= target { lo = mid + 1 } else { hi = mid } }
                item = Int32(lo)
            }
            if !seen.contains(item) && chosen.insert(item).inserted { ordered.append(item) }
        }
        return ordered
    }
}
