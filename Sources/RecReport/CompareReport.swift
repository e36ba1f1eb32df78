import Foundation
import RecCore
import RecEval
import RecStore

/// A leaderboard across experiments: every pipeline of every experiment, ranked on the metrics
/// they share, tested against the leader on the same users. Only experiments whose data
/// fingerprint, split and protocol are identical may stand together.
public enum CompareReport {
    /// Throws, naming the first difference, unless every experiment matches the first on data
    /// fingerprint, split and evaluation protocol, and they share at least one metric column.
    public static func check(_ entries: [ReportData]) throws {
        guard entries.count >= 2 else { throw RecError.usage("compare needs at least two experiments") }
        let first = entries[0]
        guard let fingerprint = first.fingerprint else {
            throw RecError(.store, "experiment '\(first.info.name)' has no finished cell, so its data cannot be matched")
        }
        for other in entries.dropFirst() {
            let a = first.info.name, b = other.info.name
            func refuse(_ what: String, _ x: String, _ y: String) -> RecError {
                RecError(.spec, "experiments '\(a)' and '\(b)' are not comparable: their \(what) differ ('\(a)': \(x); '\(b)': \(y))")
            }
            guard let theirs = other.fingerprint else { throw RecError(.store, "experiment '\(b)' has no finished cell, so its data cannot be matched") }
            if theirs != fingerprint { throw refuse("data fingerprints", String(fingerprint.prefix(16)), String(theirs.prefix(16))) }
            if other.info.split != first.info.split { throw refuse("splits", first.info.split, other.info.split) }
            if other.info.protocolDescription != first.info.protocolDescription {
                throw refuse("evaluation protocols", first.info.protocolDescription, other.info.protocolDescription)
            }
        }
        if sharedColumns(entries).isEmpty { throw RecError(.spec, "the experiments share no metric at a common cutoff") }
    }

    static func sharedColumns(_ entries: [ReportData]) -> [MetricKey] {
        entries[0].columns.filter { column in entries.allSatisfy { $0.columns.contains(column) } }
    }

    struct Entry {
        var data: ReportData
        var pipeline: String
        var label: String { "\(data.info.name)/\(pipeline)" }
    }

    /// The leaderboard as Markdown with its figures (`figureFolder` relative to the report).
    public static func render(_ entries: [ReportData], figureFolder: String) throws -> MarkdownReport.Rendered {
        try check(entries)
        let columns = sharedColumns(entries)
        let headline = columns[0]
        let higher = ReportData.higherIsBetter(headline)
        let all = entries.flatMap { data in data.info.pipelines.map { Entry(data: data, pipeline: $0) } }.filter { $0.data.summary(headline, $0.pipeline) != nil }
        let ranked = all.sorted {
            let a = $0.data.summary(headline, $0.pipeline)!.mean, b = $1.data.summary(headline, $1.pipeline)!.mean
            return higher ? a > b : a < b
        }
        guard let leader = ranked.first else { throw RecError(.store, "no pipeline of these experiments has a finished cell") }
        var figures = FigureSet(folder: figureFolder)
        let names = entries.map(\.info.name)
        var out = "# Leaderboard: \(names.joined(separator: ", "))\n\n"
        out += "Rendered by `reclab compare \(names.joined(separator: " "))`. The experiments share their data, split and protocol:\n\n"
        if let fingerprint = entries[0].fingerprint, let json = try entries[0].store.datasetStats(fingerprint: fingerprint) {
            out += MarkdownReport.datasetSection(json, fingerprint: fingerprint)
        }
        out += "- Split: \(entries[0].info.split)\n- Protocol: \(entries[0].info.protocolDescription)\n"
        for data in entries { out += "- \(Markdown.code(data.info.name)): `\(data.info.specFile)`, seeds \(data.info.seeds.map(String.init).joined(separator: ", "))\n" }
        out += "\n## Leaderboard\n\nRanked by \(headline) (mean ± standard deviation over seeds); the best of each column in bold.\n\n"
        out += "| rank | experiment | pipeline | " + columns.map(\.description).joined(separator: " | ") + " |\n|---:|---|---|" + columns.map { _ in "---:|" }.joined() + "\n"
        for (index, entry) in ranked.enumerated() {
            let cells = columns.map { column -> String in
                guard let value = entry.data.summary(column, entry.pipeline) else { return "–" }
                let means = ranked.compactMap { $0.data.summary(column, $0.pipeline)?.mean }
                let text = value.n > 1 ? String(format: "%.4f ± %.4f", value.mean, value.std) : String(format: "%.4f", value.mean)
                return ReportData.isBest(value.mean, among: means, on: column) ? "**\(text)**" : text
            }
            out += "| \(index + 1) | \(Markdown.text(entry.data.info.name)) | \(Markdown.text(entry.pipeline)) | " + cells.joined(separator: " | ") + " |\n"
        }
        out += "\n"
        out += try againstLeader(ranked, leader: leader, columns: columns)
        for column in columns {
            let colHigher = ReportData.higherIsBetter(column)
            let rows = try ranked.compactMap { entry in
                try entry.data.interval(entry.pipeline, column).map { Plot.Interval(label: entry.label, mean: $0.mean, low: $0.low, high: $0.high) }
            }.sorted { colHigher ? $0.mean > $1.mean : $0.mean < $1.mean }
            guard !rows.isEmpty else { continue }
            let title = "\(column) across \(names.joined(separator: ", "))"
            out += figures.add(
                "\(column).svg", title: title,
                svg: Plot.intervals(title: title, metric: "\(column) (mean per user)", rows: rows, note: "dot: mean per user; bar: 95% bootstrap interval; best first"))
        }
        // Accuracy against LLM tokens, where any entry used a language model.
        let costed = try ranked.compactMap { entry in
            try entry.data.costs(entry.pipeline).map { (entry, ($0["prompt_tokens"] ?? 0) + ($0["generated_tokens"] ?? 0)) }
        }
        if costed.contains(where: { $0.1 > 0 }) {
            let points = costed.compactMap { entry, tokens in
                entry.data.summary(headline, entry.pipeline).map { Plot.CostPoint(label: entry.label, cost: tokens, value: $0.mean) }
            }
            let title = "\(headline) against LLM tokens per cell"
            out += figures.add(
                "cost-\(headline).svg", title: title,
                svg: Plot.costScatter(title: title, costLabel: "LLM tokens per cell (prompt + generated)", metric: "\(headline) (mean over seeds)", points: points, higherIsBetter: higher))
        }
        return MarkdownReport.Rendered(markdown: out, figures: figures.figures)
    }

    /// Every entry against the leader on the same users: paired t-test and Wilcoxon, Holm over
    /// the whole table, with the minimum detectable effect.
    static func againstLeader(_ ranked: [Entry], leader: Entry, columns: [MetricKey]) throws -> String {
        struct Row { var label: String; var column: MetricKey; var a: Double; var b: Double; var t: Double?; var w: Double?; var mde: Double? }
        var rows: [Row] = []
        for entry in ranked.dropFirst() {
            for column in columns {
                guard let mine = try entry.data.perUser(entry.pipeline, column), let theirs = try leader.data.perUser(leader.pipeline, column),
                    let test = SignificanceFamily.paired(mine, theirs)
                else { continue }
                rows.append(Row(label: entry.label, column: column, a: test.a, b: test.b, t: test.t, w: test.w, mde: test.mde))
            }
        }
        guard !rows.isEmpty else { return "" }
        let adjustedT = MultipleComparisons.adjust(rows.map { $0.t ?? 1 }, method: .holm)
        let adjustedW = MultipleComparisons.adjust(rows.map { $0.w ?? 1 }, method: .holm)
        var out = "## Against the leader, \(Markdown.code(leader.label))\n\n"
        out += "Paired tests on per-user values (each user's value averaged over seeds; users matched across experiments by the shared data). "
        out += "The \(rows.count) tests of each kind are adjusted together by Holm's procedure; † marks an adjusted p < 0.05 in both. "
        out += "MDE: the smallest true difference the t-test would detect with 80% power at α = 0.05.\n\n"
        out += "| entry | metric | mean | leader | Δ | MDE | t-test p | Wilcoxon p | adjusted t / W |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for (index, row) in rows.enumerated() {
            let survives = row.t != nil && row.w != nil && adjustedT[index] < 0.05 && adjustedW[index] < 0.05
            out += "| \(Markdown.text(row.label)) | \(row.column) | " + String(format: "%.4f | %.4f | %+.4f | ", row.a, row.b, row.a - row.b)
            out += (row.mde.map { String(format: "%.4f", $0) } ?? "–") + " | \(MarkdownReport.pValue(row.t)) | \(MarkdownReport.pValue(row.w)) | "
            out += "\(MarkdownReport.pValue(adjustedT[index])) / \(MarkdownReport.pValue(adjustedW[index]))\(survives ? " †" : "") |\n"
        }
        return out + "\n"
    }
}
