import Foundation
import RecCore
import RecEval
import RecStore

/// An experiment's results as every report form reads them (Markdown, LaTeX, CSV, the
/// cross-experiment leaderboard): its info, its cells, their metrics, and per-user values.
public struct ReportData {
    public let store: ResultStore
    public let info: ExperimentInfo
    let cells: [ResultStore.CellRecord]
    let byKey: [String: ResultStore.CellRecord]
    let metricsByCell: [String: [MetricKey: Double]]
    /// The metric columns: each metric at each cutoff, or once when it has none.
    public let columns: [MetricKey]

    public init(store: ResultStore, experiment name: String) throws {
        self.store = store
        let record = try store.experiment(named: name)
        info = try JSONDecoder().decode(ExperimentInfo.self, from: Data(record.infoJSON.utf8))
        cells = try store.cells(of: record)
        byKey = Dictionary(uniqueKeysWithValues: cells.map { ($0.key, $0) })
        var metrics: [String: [MetricKey: Double]] = [:]
        for cell in cells where cell.status == .done {
            var values: [MetricKey: Double] = [:]
            for metric in try store.metrics(cell: cell.id) { values[MetricKey(metric.name, metric.k)] = metric.value }
            metrics[cell.key] = values
        }
        metricsByCell = metrics
        let info = info
        let planned = info.metrics.flatMap { metric -> [MetricKey] in
            (MetricCatalog.definition(metric)?.usesCutoff ?? true) ? info.cutoffs.map { MetricKey(metric, $0) } : [MetricKey(metric)]
        }
        // Subsets a split defines (the `cold:` metrics of a cold-start split) follow, in the
        // same order.
        let stored = Set(metrics.values.flatMap(\.keys))
        let subsets = Set(stored.compactMap { key in key.name.firstIndex(of: ":").map { String(key.name[..<$0]) } }).sorted()
        columns = planned + subsets.flatMap { subset in planned.map { MetricKey("\(subset):\($0.name)", $0.k) }.filter(stored.contains) }
        guard !info.points.isEmpty else { throw RecError(.store, "experiment '\(name)' has no planned cells") }
    }

    public var base: ExperimentInfo.Point { info.points[0] }

    /// How the report's families of tests are corrected (holm where the store does not say).
    var correction: MultipleComparisons.Method { MultipleComparisons.Method(rawValue: info.correction ?? "holm") ?? .holm }

    /// The finished cells of `pipeline` at `point`.
    func doneCells(_ point: ExperimentInfo.Point, _ pipeline: String) -> [(ref: ExperimentInfo.CellRef, cell: ResultStore.CellRecord)] {
        point.cells.filter { $0.pipeline == pipeline }.compactMap { ref in byKey[ref.key].flatMap { $0.status == .done ? (ref, $0) : nil } }
    }

    /// The values of `column` over the seeds of `pipeline` at `point` (NaN dropped).
    func values(_ column: MetricKey, _ pipeline: String, at point: ExperimentInfo.Point? = nil) -> [Double] {
        (point ?? base).cells.filter { $0.pipeline == pipeline }.compactMap { metricsByCell[$0.key]?[column] }.filter { !$0.isNaN }
    }

    /// Mean, sample standard deviation and count over seeds, nil without a finished cell.
    func summary(_ column: MetricKey, _ pipeline: String, at point: ExperimentInfo.Point? = nil) -> (mean: Double, std: Double, n: Int)? {
        let list = values(column, pipeline, at: point)
        return list.isEmpty ? nil : MarkdownReport.meanStd(list)
    }

    static func higherIsBetter(_ column: MetricKey) -> Bool {
        MetricCatalog.definition(stored: column.name)?.higherIsBetter ?? true
    }

    /// Whether `mean` is the best of `means` on `column` (which set it bold in a table); never
    /// when every mean is the same.
    static func isBest(_ mean: Double, among means: [Double], on column: MetricKey) -> Bool {
        mean == (higherIsBetter(column) ? means.max() : means.min()) && Set(means).count > 1
    }

    /// Each user's value of a metric for a pipeline at a point, averaged over its seeds; nil
    /// when a seed is unfinished or has no per-user values.
    func perUser(_ pipeline: String, _ column: MetricKey, at point: ExperimentInfo.Point? = nil) throws -> [Int32: Double]? {
        var sums: [Int32: Double] = [:]
        var seeds = 0
        for ref in (point ?? base).cells where ref.pipeline == pipeline {
            guard let cell = byKey[ref.key], cell.status == .done,
                let series = try store.perUser(cell: cell.id, name: column.name, k: column.k)
            else { return nil }
            seeds += 1
            for (user, value) in zip(series.users, series.values) { sums[user, default: 0] += value }
        }
        return seeds == 0 ? nil : sums.mapValues { $0 / Double(seeds) }
    }

    /// The mean per-user value with its 95% bootstrap interval, nil without per-user values.
    func interval(_ pipeline: String, _ column: MetricKey, at point: ExperimentInfo.Point? = nil) throws -> (mean: Double, low: Double, high: Double)? {
        guard let series = try perUser(pipeline, column, at: point) else { return nil }
        let list = series.keys.sorted().compactMap { series[$0] }.filter { !$0.isNaN }
        guard let interval = MultipleComparisons.bootstrapMean(list) else { return nil }
        return (list.reduce(0, +) / Double(list.count), interval.low, interval.high)
    }

    /// The per-cell costs of `pipeline` at the base point, averaged over the seeds that have
    /// them; nil when none has.
    func costs(_ pipeline: String) throws -> [String: Double]? {
        var sums: [String: Double] = [:]
        var seeds = 0
        for (_, cell) in doneCells(base, pipeline) {
            let costs = try store.costs(cell: cell.id)
            guard !costs.isEmpty else { continue }
            seeds += 1
            for (name, value) in costs { sums[name, default: 0] += value }
        }
        return seeds == 0 ? nil : sums.mapValues { $0 / Double(seeds) }
    }

    /// The data fingerprint of the finished cells (nil before any finished).
    public var fingerprint: String? { cells.lazy.compactMap(\.dataFingerprint).first }
}
