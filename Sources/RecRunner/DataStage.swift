import Foundation
import RecCore
import RecData
import RecSpec

/// Loads, filters and splits data once per distinct `DataSpec` in a process.
public final class DataStage: @unchecked Sendable {
    public struct Prepared: Sendable {
        public var split: SplitData
        public var fingerprint: String
        public var statisticsJSON: String
    }

    public let catalog: DataCatalog
    private var cache: [String: Prepared] = [:]
    private let lock = NSLock()

    public init(catalog: DataCatalog) { self.catalog = catalog }

    /// - Parameters:
    ///   - directory: the spec file's folder; a relative `path:` is resolved against it.
    ///   - runSeed: the cell's seed, which picks the split when the spec draws one per seed.
    public func prepare(_ spec: DataSpec, relativeTo directory: String = ".", runSeed: UInt64 = 0) throws -> Prepared {
        let splitSeed = spec.split.seed(forRun: runSeed)
        let key = try canonicalJSON(spec) + "|" + directory + "|\(splitSeed)"
        lock.lock(); defer { lock.unlock() }
        if let hit = cache[key] { return hit }
        let path = spec.path.map { $0.hasPrefix("/") ? $0 : URL(fileURLWithPath: directory).appendingPathComponent($0).standardized.path }
        var dataset: Dataset
        do {
            dataset = try catalog.load(dataset: spec.dataset, path: path, format: spec.format)
        } catch var error as RecError where error.location == nil && error.keyPath == nil {
            error.keyPath = "data"
            throw error
        }
        let unique = dataset.withoutDuplicates()
        if let (user, item) = unique.example, spec.duplicates == .refuse {
            throw RecError(
                .data,
                "'\(spec.dataset)' holds \(unique.dropped) repeated (user, item) interactions, the first for user '\(Excerpt.of(user))' and item '\(Excerpt.of(item))' (data.duplicates: refuse; keep_last keeps the latest of each)",
                key: "data.duplicates")
        }
        dataset = unique.dataset
        if let threshold = spec.ratingThreshold { dataset = dataset.filtered(ratingAtLeast: threshold) }
        dataset = dataset.kCore(minUser: spec.minUserInteractions, minItem: spec.minItemInteractions)
        guard !dataset.interactions.isEmpty else {
            throw RecError(.data, "no interactions are left in '\(spec.dataset)' after filtering (rating_threshold, min_user_interactions, min_item_interactions)", key: "data")
        }
        if spec.label != nil && !dataset.hasRatings {
            throw RecError(.data, "the label rule '\(spec.label!)' reads ratings, but '\(spec.dataset)' has none (implicit feedback)", key: "data.label")
        }
        var split = try dataset.split(spec.split.method, ratios: spec.split.ratios, seed: splitSeed, historyPrefix: spec.split.historyPrefix)
        split.labelRule = spec.label
        if let fraction = spec.trainFraction { split = Self.trainingUsers(split, fraction: fraction, seed: splitSeed) }
        if let share = spec.split.coldItems { split = try Self.withholdingItems(split, share: share, seed: splitSeed, dataset: spec.dataset) }
        var stats = dataset.statistics
        stats.name = spec.dataset
        stats.duplicatesDropped = unique.dropped > 0 ? unique.dropped : nil
        let cold = Set(split.coldItems)
        let statsObject = SplitStatistics(
            dataset: stats, split: ExperimentPlan.describeSplit(spec), train: split.train.count, validation: split.validation.count, test: split.test.count,
            historyOnly: split.historyOnly.isEmpty ? nil : split.historyOnly.count, coldItems: split.coldItems.isEmpty ? nil : split.coldItems.count,
            coldTest: split.coldItems.isEmpty ? nil : split.test.filter { cold.contains($0.item) }.count)
        let prepared = Prepared(split: split, fingerprint: dataset.fingerprint, statisticsJSON: try canonicalJSON(statsObject))
        cache[key] = prepared
        return prepared
    }
}

extension DataStage {
    /// `split` with training samples from a seeded `fraction` of the users who have any (at
    /// least one user): the others' training interactions become history only, so models still
    /// read them as the user's history and every user is still evaluated.
    static func trainingUsers(_ split: SplitData, fraction: Double, seed: UInt64) -> SplitData {
        var users = Array(Set(split.train.map(\.user))).sorted()
        var rng = SplitMix64(seed: seed ^ 0x7472_6169_6E5F_7573)
        users.shuffle(using: &rng)
        let kept = Set(users.prefix(max(1, Int((Double(users.count) * fraction).rounded()))))
        return SplitData(
            dataset: split.dataset, train: split.train.filter { kept.contains($0.user) }, validation: split.validation, test: split.test,
            labelRule: split.labelRule, historyOnly: split.historyOnly + split.train.filter { !kept.contains($0.user) })
    }
}

extension DataStage {
    /// `split` without any training, validation or history-only interaction of a seeded `share`
    /// of the test set's distinct items (at least one): TIGER's cold-start protocol, in which a
    /// model meets those items only as test items.
    static func withholdingItems(_ split: SplitData, share: Double, seed: UInt64, dataset name: String) throws -> SplitData {
        var items = Array(Set(split.test.map(\.item))).sorted()
        var rng = SplitMix64(seed: seed ^ 0x636F_6C64_5F69_7465)
        items.shuffle(using: &rng)
        let cold = Set(items.prefix(max(1, Int((Double(items.count) * share).rounded()))))
        let kept = { (event: Interaction) in !cold.contains(event.item) }
        let train = split.train.filter(kept)
        guard !train.isEmpty else {
            throw RecError(.data, "withholding \(cold.count) cold-start items left no training interactions in '\(name)'", key: "data.split.cold_items")
        }
        return SplitData(
            dataset: split.dataset, train: train, validation: split.validation.filter(kept), test: split.test, labelRule: split.labelRule,
            historyOnly: split.historyOnly.filter(kept), coldItems: cold.sorted())
    }
}

/// Dataset counts plus the split sizes, stored with the dataset fingerprint for reports.
public struct SplitStatistics: Sendable, Codable, Equatable {
    public var dataset: DatasetStatistics
    public var split: String
    public var train: Int
    public var validation: Int
    public var test: Int
    /// Interactions kept as history only (a split's per-user prefix; nil: none).
    public var historyOnly: Int?
    /// Items withheld from training and validation, and the test interactions with them (a
    /// cold-start split; nil: none).
    public var coldItems: Int?
    public var coldTest: Int?
}
