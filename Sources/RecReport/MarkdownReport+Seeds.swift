import Foundation
import RecEval
import RecStore

extension MarkdownReport {
    /// The significance tables' comparisons on the results table's own figures (AUC over all
    /// pairs, RMSE, ...), paired by seed: the difference of the means, the seeds on which the
    /// pipeline is ahead, and a two-sided paired t-test over seeds. Empty with fewer than two
    /// seeds or no comparison.
    static func seedSection(_ family: SignificanceFamily, data: ReportData) -> String {
        guard data.info.seeds.count > 1 else { return "" }
        var rows: [String] = []
        for section in family.sections {
            let oneBaseline = Set(section.pairs.map(\.1)).count == 1
            for (pipeline, other) in section.pairs {
                for column in data.columns {
                    let mine = data.bySeed(column, pipeline), theirs = data.bySeed(column, other)
                    let seeds = mine.keys.filter { theirs[$0] != nil }.sorted()
                    guard seeds.count > 1 else { continue }
                    let a = seeds.map { mine[$0]! }, b = seeds.map { theirs[$0]! }
                    let higher = ReportData.higherIsBetter(column)
                    let ahead = zip(a, b).filter { higher ? $0 > $1 : $0 < $1 }.count
                    let delta = (a.reduce(0, +) - b.reduce(0, +)) / Double(seeds.count)
                    rows.append(
                        "| \(comparisonLabel(pipeline, other, oneBaseline: oneBaseline)) | \(column) | " + String(format: "%+.4f", delta)
                            + " | \(ahead) of \(seeds.count) | \(pValue(Significance.pairedTTest(a, b)?.pValue)) |")
                }
            }
        }
        guard !rows.isEmpty else { return "" }
        var out = "## The same comparisons over seeds\n\n"
        out += "The results table's figures, paired by seed (one model per seed on each side; the same split where the spec draws one per seed): "
        out += "Δ of the means over seeds, the seeds on which the pipeline is ahead, and a two-sided paired t-test over seeds, "
        out += "not corrected for multiple comparisons.\n\n"
        out += "| pipeline | metric | Δ | seeds ahead | t-test p |\n|---|---|---:|---:|---:|\n"
        return out + rows.joined(separator: "\n") + "\n\n"
    }
}

extension ReportData {
    /// The value of `column` of each finished seed of `pipeline` at `point` (NaN dropped).
    func bySeed(_ column: MetricKey, _ pipeline: String, at point: ExperimentInfo.Point? = nil) -> [UInt64: Double] {
        var out: [UInt64: Double] = [:]
        for ref in (point ?? base).cells where ref.pipeline == pipeline {
            if let value = metricsByCell[ref.key]?[column], !value.isNaN { out[ref.seed] = value }
        }
        return out
    }
}
