import Foundation
import RecEval
import RecStore

extension MarkdownReport {
    /// The spec's margin claims (`evaluation.margins`), each tested at every point where both
    /// pipelines have finished: a one-sided paired t-test on per-user values of the null
    /// hypothesis that the pipeline is worse than the other by the margin or more, corrected
    /// as one family with the report's correction, and the two-sided test of the difference
    /// beside it. Empty when the spec makes no claim.
    static func marginSection(data: ReportData) throws -> String {
        guard let margins = data.info.margins, !margins.isEmpty else { return "" }
        struct Row {
            var point: String, margin: ExperimentInfo.Margin
            var a: Double, b: Double, test: Significance.NonInferiority, twoSided: Double?
        }
        var rows: [Row] = []
        var waiting: [String] = []
        for margin in margins {
            guard let column = data.columns.first(where: { $0.description == margin.metric }) else {
                waiting.append("\(margin.metric) is not a column of this report")
                continue
            }
            let higher = ReportData.higherIsBetter(column)
            for point in data.info.points {
                guard let mine = try data.perUser(margin.pipeline, column, at: point), let theirs = try data.perUser(margin.against, column, at: point) else {
                    waiting.append("\(Markdown.text(margin.pipeline)) against \(Markdown.text(margin.against)) at \(Markdown.text(point.label)) (a side has unfinished cells)")
                    continue
                }
                let (a, b) = SignificanceFamily.shared(mine, theirs)
                guard let test = Significance.nonInferiority(a, b, margin: margin.margin, higherIsBetter: higher) else {
                    waiting.append(
                        "\(Markdown.text(margin.pipeline)) against \(Markdown.text(margin.against)) at \(Markdown.text(point.label)) (\(a.count) user(s) with a per-user \(margin.metric))")
                    continue
                }
                rows.append(
                    Row(
                        point: point.label, margin: margin, a: a.reduce(0, +) / Double(a.count), b: b.reduce(0, +) / Double(b.count), test: test,
                        twoSided: Significance.pairedTTest(a, b)?.pValue))
            }
        }
        let method = data.correction
        let adjusted = MultipleComparisons.adjust(rows.map(\.test.pValue), method: method)
        var out = "## Within a margin\n\n"
        out += "Each claim of `evaluation.margins` that a pipeline comes within a margin of another, at every point of the sweep: "
        out += "a one-sided paired t-test on per-user values (each user's value averaged over seeds, as in the significance tables) "
        out += "of the null hypothesis that the pipeline is worse by the margin or more. Worse is higher for an error metric and lower otherwise; "
        out += "\"worse by\" is the mean per-user worsening (negative: the pipeline is better) and \"bound\" its one-sided 95% upper confidence bound, "
        out += "so the claim holds (p < 0.05) exactly when the bound is below the margin. "
        if method == .none {
            out += "No correction for multiple comparisons (evaluation.correction: none); ✓ marks p < 0.05. "
        } else {
            out += "The \(rows.count) tests form one family, adjusted by the report's correction (evaluation.correction: \(method.rawValue)); ✓ marks an adjusted p < 0.05. "
        }
        out += "The last column is the two-sided paired t-test of the difference, uncorrected.\n\n"
        if !rows.isEmpty {
            out += "| point | pipeline | against | metric | users | mean | against | worse by | bound | margin | p | adjusted p | holds | difference p |\n"
            out += "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|\n"
            for (row, adjustedP) in zip(rows, adjusted) {
                out += "| \(Markdown.text(row.point)) | \(Markdown.text(row.margin.pipeline)) | \(Markdown.text(row.margin.against)) | \(row.margin.metric) | \(row.test.n) | "
                out += String(format: "%.4f | %.4f | %+.4f | %+.4f | %.4f | ", row.a, row.b, row.test.worsening, row.test.upper, row.margin.margin)
                out += "\(pValue(row.test.pValue)) | \(pValue(adjustedP)) | \(adjustedP < 0.05 ? "✓" : "") | \(pValue(row.twoSided)) |\n"
            }
            out += "\n"
        }
        if !waiting.isEmpty { out += "Not tested: " + waiting.joined(separator: "; ") + ".\n\n" }
        return out
    }
}
