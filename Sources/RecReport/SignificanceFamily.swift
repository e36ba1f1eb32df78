import Foundation
import RecCore
import RecEval
import RecStore

/// The paired tests of a report, against its baseline and between its named pairs, as one
/// family corrected together (Holm by default), with the minimum detectable effect of each.
struct SignificanceFamily {
    struct Row {
        var section: Int
        var pipeline: String, other: String
        var column: MetricKey
        var a: Double, b: Double
        var t: Double?, w: Double?
        var adjustedT = 1.0, adjustedW = 1.0
        var mde: Double?
        /// Both tests ran and both survive the correction at 0.05.
        var survives: Bool { t != nil && w != nil && adjustedT < 0.05 && adjustedW < 0.05 }
    }

    var sections: [(title: String, pairs: [(String, String)])] = []
    var rows: [Row] = []
    var method: MultipleComparisons.Method
    /// Metrics whose per-user values are another's for every pair (GAUC's are each user's AUC),
    /// with that other: their tests would repeat its tests, so they enter the family once.
    var repeats: [MetricKey: MetricKey] = [:]

    init(data: ReportData) throws {
        let info = data.info
        if let baseline = info.baseline {
            sections.append(("Significance against `\(baseline)`", info.pipelines.filter { $0 != baseline }.map { ($0, baseline) }))
        }
        if let comparisons = info.comparisons, !comparisons.isEmpty {
            sections.append(("Paired comparisons", comparisons.map { ($0[0], $0[1]) }))
        }
        var series: [String: [Int32: Double]] = [:]
        func perUser(_ pipeline: String, _ column: MetricKey) throws -> [Int32: Double]? {
            let key = "\(pipeline)\u{0}\(column)"
            if let known = series[key] { return known }
            let values = try data.perUser(pipeline, column)
            series[key] = values
            return values
        }
        let pipelines = Set(sections.flatMap { $0.pairs.flatMap { [$0.0, $0.1] } })
        for (index, column) in data.columns.enumerated() {
            for earlier in data.columns[..<index] where repeats[earlier] == nil {
                let same = try pipelines.allSatisfy { pipeline in
                    guard let a = try perUser(pipeline, column), let b = try perUser(pipeline, earlier), a.count == b.count else { return false }
                    // NaN (a user a metric is undefined for, such as AUC with one class) matches NaN.
                    return a.allSatisfy { user, value in b[user].map { $0 == value || ($0.isNaN && value.isNaN) } ?? false }
                }
                if same && !pipelines.isEmpty {
                    repeats[column] = earlier
                    break
                }
            }
        }
        for (index, section) in sections.enumerated() {
            for (pipeline, other) in section.pairs {
                for column in data.columns where repeats[column] == nil {
                    guard let mine = try perUser(pipeline, column), let theirs = try perUser(other, column),
                        let test = Self.paired(mine, theirs)
                    else { continue }
                    rows.append(
                        Row(section: index, pipeline: pipeline, other: other, column: column, a: test.a, b: test.b, t: test.t, w: test.w, mde: test.mde))
                }
            }
        }
        method = data.correction
        // A test that could not be run (too few pairs) enters the family with p = 1.
        let adjustedT = MultipleComparisons.adjust(rows.map { $0.t ?? 1 }, method: method)
        let adjustedW = MultipleComparisons.adjust(rows.map { $0.w ?? 1 }, method: method)
        for index in rows.indices {
            rows[index].adjustedT = adjustedT[index]
            rows[index].adjustedW = adjustedW[index]
        }
    }

    /// Both tests and the MDE on the users two per-user series share (NaN dropped): the means,
    /// the p-values (nil where a test cannot run) and the minimum detectable effect.
    static func paired(_ mine: [Int32: Double], _ theirs: [Int32: Double]) -> (a: Double, b: Double, t: Double?, w: Double?, mde: Double?)? {
        let (a, b) = shared(mine, theirs)
        guard !a.isEmpty else { return nil }
        return (
            a.reduce(0, +) / Double(a.count), b.reduce(0, +) / Double(b.count), Significance.pairedTTest(a, b)?.pValue, Significance.wilcoxon(a, b)?.pValue,
            Power.minimumDetectableEffect(differences: zip(a, b).map { $0 - $1 })
        )
    }

    /// Two per-user series on the users both have a value for (NaN dropped), in user order.
    static func shared(_ mine: [Int32: Double], _ theirs: [Int32: Double]) -> (a: [Double], b: [Double]) {
        let users = mine.keys.filter { theirs[$0] != nil && !mine[$0]!.isNaN && !theirs[$0]!.isNaN }.sorted()
        return (users.map { mine[$0]! }, users.map { theirs[$0]! })
    }

    /// Whether `pipeline` differs significantly from the baseline on `column`.
    func differsFromBaseline(_ pipeline: String, _ column: MetricKey) -> Bool {
        let tested = repeats[column] ?? column
        return rows.contains { $0.section == 0 && $0.pipeline == pipeline && $0.column == tested && $0.survives } && !sections.isEmpty
            && sections[0].title.hasPrefix("Significance against")
    }
}
