import Foundation
import RecCore
import RecEval
import RecStore

/// Renders an experiment's Markdown report from the results store alone, so `reclab report`
/// reproduces the file byte for byte.
public enum MarkdownReport {
    /// A rendered report: its Markdown, and the figures it shows, to be written into the
    /// folder the Markdown names (`figureFolder`, relative to the report).
    public struct Rendered: Sendable {
        public var markdown: String
        public var figures: [Figure]
    }

    public static func render(store: ResultStore, experiment name: String, figureFolder: String) throws -> Rendered {
        let data = try ReportData(store: store, experiment: name)
        let info = data.info, columns = data.columns, base = data.base
        var figures = FigureSet(folder: figureFolder)

        var out = "# \(info.name)\n\n"
        if let description = info.description { out += description.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n" }
        let overrides = (info.overrides ?? []).map { " --set \($0)" }.joined()
        out += "Rendered from the results store by `reclab report \(info.name)`; produced by `reclab run \(info.specFile)\(overrides)`.\n\n"

        // MARK: Data and protocol
        out += "## Data and protocol\n\n"
        if let fingerprint = data.fingerprint, let json = try store.datasetStats(fingerprint: fingerprint) {
            out += datasetSection(json, fingerprint: fingerprint)
        } else {
            out += "- Dataset: \(info.dataset) (no finished cell yet)\n"
        }
        out += "- Split: \(info.split)\n"
        out += "- Protocol: \(info.protocolDescription)\n"
        out += "- Seeds: \(info.seeds.map(String.init).joined(separator: ", ")) (mean ± sample standard deviation over seeds)\n"
        let done = data.cells.filter { $0.status == .done }.count
        out += "- Cells: \(done) of \(data.cells.count) finished\n\n"

        // MARK: Results
        out += "## Results\n\n"
        out += "| pipeline | " + columns.map(\.description).joined(separator: " | ") + " |\n"
        out += "|---|" + columns.map { _ in "---:|" }.joined() + "\n"
        for pipeline in info.pipelines {
            let cellsText = columns.map { column -> String in
                guard let value = data.summary(column, pipeline) else { return "–" }
                let all = info.pipelines.compactMap { data.summary(column, $0)?.mean }
                let text = value.n > 1 ? String(format: "%.4f ± %.4f", value.mean, value.std) : String(format: "%.4f", value.mean)
                return ReportData.isBest(value.mean, among: all, on: column) ? "**\(text)**" : text
            }
            out += "| \(Markdown.text(pipeline)) | " + cellsText.joined(separator: " | ") + " |\n"
        }
        out += "\nPipelines:\n\n"
        for pipeline in info.pipelines { out += "- \(Markdown.code(pipeline)): \(info.pipelineComponents[pipeline] ?? "?")\n" }
        out += "\n"

        // MARK: Significance
        let family = try SignificanceFamily(data: data)
        if !family.sections.isEmpty { out += significanceSections(family) + seedSection(family, data: data) }
        out += try intervalSection(data: data, figures: &figures)
        out += try sampledCorrectionSection(data: data)

        // MARK: Ablation
        if info.points.count > 1 {
            out += "## Ablation\n\n"
            out += "Each sweep point against the spec as written (`base`); Δ is the difference of the means.\n\n"
            out += "| point | pipeline | " + columns.map(\.description).joined(separator: " | ") + " |\n"
            out += "|---|---|" + columns.map { _ in "---:|" }.joined() + "\n"
            for point in info.points.dropFirst() {
                for pipeline in info.pipelines where point.cells.filter({ $0.pipeline == pipeline }) != base.cells.filter({ $0.pipeline == pipeline }) {
                    let values = columns.map { column -> String in
                        let mine = data.values(column, pipeline, at: point)
                        guard !mine.isEmpty else { return "–" }
                        let mean = meanStd(mine).mean
                        guard let theirs = data.summary(column, pipeline) else { return String(format: "%.4f", mean) }
                        return String(format: "%.4f (%+.4f)", mean, mean - theirs.mean)
                    }
                    out += "| \(Markdown.text(point.label)) | \(Markdown.text(pipeline)) | " + values.joined(separator: " | ") + " |\n"
                }
            }
            out += "\n"
            out += try sweepFigures(data: data, figures: &figures)
        }
        out += try marginSection(data: data)
        out += try learningCurves(data: data, figures: &figures)
        out += try costSection(data: data, figures: &figures)
        out += try countsSection(data: data)
        let failures = data.cells.filter { $0.status == .failed }
        if !failures.isEmpty {
            out += "\n## Failed cells\n\n"
            for cell in failures { out += "- \(Markdown.text(cell.pipeline)) seed \(cell.seed) [\(Markdown.text(cell.sweepLabel))]: \(Markdown.text(cell.error ?? "unknown error"))\n" }
        }
        return Rendered(markdown: out, figures: figures.figures)
    }

    /// What the pipelines' components counted, with the notes in which they explain it,
    /// summed over seeds, and the examples they kept, quoted. Empty when nothing counted.
    static func countsSection(data: ReportData) throws -> String {
        let store = data.store, info = data.info, base = data.base, byKey = data.byKey
        var rows: [(pipeline: String, counts: [String: Int], seeds: Int)] = []
        var quoted: [(pipeline: String, seed: UInt64, examples: [String])] = []
        var notes: [String] = []
        for pipeline in info.pipelines {
            var sums: [String: Int] = [:], seeds = 0
            for ref in base.cells where ref.pipeline == pipeline {
                guard let cell = byKey[ref.key], cell.status == .done else { continue }
                let counts = try store.counts(cell: cell.id)
                if !counts.isEmpty { seeds += 1 }
                for count in counts { sums[count.name, default: 0] += count.value }
                if let bytes = try store.artifact(ResultStore.notesKey(cell: ref.key)), let stored = try? JSONDecoder().decode([String].self, from: Data(bytes)) {
                    for note in stored where !notes.contains(note) { notes.append(note) }
                }
                if let bytes = try store.artifact(ResultStore.examplesKey(cell: ref.key)),
                    let examples = try? JSONDecoder().decode([String].self, from: Data(bytes)), !examples.isEmpty, quoted.allSatisfy({ $0.pipeline != pipeline })
                {
                    quoted.append((pipeline, ref.seed, examples))
                }
            }
            if !sums.isEmpty { rows.append((pipeline, sums, seeds)) }
        }
        guard !rows.isEmpty || !quoted.isEmpty else { return "" }
        var out = ""
        if !rows.isEmpty {
            let names = Set(rows.flatMap(\.counts.keys)).sorted()
            out += "\n## Counts\n\n"
            out += "What the components counted, summed over seeds." + notes.map { " " + $0 }.joined() + "\n\n"
            out += "| pipeline | seeds | " + names.joined(separator: " | ") + " |\n|---|---:|" + names.map { _ in "---:|" }.joined() + "\n"
            for row in rows {
                out += "| \(Markdown.text(row.pipeline)) | \(row.seeds) | " + names.map { row.counts[$0].map(String.init) ?? "–" }.joined(separator: " | ") + " |\n"
            }
        }
        for (index, entry) in quoted.enumerated() {
            out += "\n## Examples: \(Markdown.text(entry.pipeline)) (seed \(entry.seed))\n\n"
            // Pipelines that differ only after the model's answer (e.g. how unpicked candidates
            // are filled) keep the same examples: quote them once.
            if let same = quoted[..<index].first(where: { $0.examples == entry.examples && $0.seed == entry.seed }) {
                out += "The same prompts and answers as \(Markdown.code(same.pipeline)) above.\n"
                continue
            }
            for example in entry.examples {
                out += example.split(separator: "\n", omittingEmptySubsequences: false).map { "> " + $0 }.joined(separator: "\n") + "\n\n"
            }
        }
        return out
    }

    static func datasetSection(_ json: String, fingerprint: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let dataset = object["dataset"] as? [String: Any]
        else { return "- Dataset fingerprint: `\(fingerprint.prefix(16))`\n" }
        let users = dataset["users"] as? Int ?? 0, items = dataset["items"] as? Int ?? 0
        let interactions = dataset["interactions"] as? Int ?? 0
        let density = Double(interactions) / Double(max(1, users * items))
        var out = "- Dataset: \(dataset["name"] as? String ?? "?"): \(grouped(users)) users, \(grouped(items)) items, "
        out += "\(grouped(interactions)) interactions, density \(String(format: "%.4f%%", density * 100))"
        out += ", \(grouped(dataset["items_with_title"] as? Int ?? 0)) items with a title\n"
        if let dropped = dataset["duplicates_dropped"] as? Int, dropped > 0 {
            out += "- Repeated (user, item) interactions: \(grouped(dropped)) dropped, the latest of each kept (data.duplicates: keep_last)\n"
        }
        out += "- Split sizes: train \(grouped(object["train"] as? Int ?? 0)), validation \(grouped(object["validation"] as? Int ?? 0)), test \(grouped(object["test"] as? Int ?? 0))"
        if let prefix = object["history_only"] as? Int { out += ", history only \(grouped(prefix))" }
        out += "\n"
        if let cold = object["cold_items"] as? Int {
            out += "- Cold-start items: \(grouped(cold)), withheld from training and validation; \(grouped(object["cold_test"] as? Int ?? 0)) test interactions are with them (the `cold:` columns)\n"
        }
        out += "- Data fingerprint (SHA-256): `\(fingerprint.prefix(16))…`\n"
        return out
    }

    /// The significance tables. All their tests form one family, corrected together (Holm by
    /// default): a row is marked when both of its tests survive the correction at 0.05.
    static func significanceSections(_ family: SignificanceFamily) -> String {
        let rows = family.rows, method = family.method
        let methodName = ["holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"][method.rawValue]!
        var out = ""
        for (index, section) in family.sections.enumerated() {
            out += "## \(section.title)\n\n"
            // A partly run experiment: say which pairs wait instead of printing an empty table.
            guard rows.contains(where: { $0.section == index }) else {
                let pairs = section.pairs.map { "\(Markdown.text($0.0)) against \(Markdown.text($0.1))" }.joined(separator: "; ")
                out += "No pair has finished cells on both sides yet (\(pairs)).\n\n"
                continue
            }
            out += "Paired tests on per-user values (each user's value averaged over seeds): two-sided paired t-test and "
            out += "Wilcoxon signed-rank (zero differences dropped, normal approximation with tie correction). "
            if method == .none {
                out += "No correction for multiple comparisons (evaluation.correction: none); † marks p < 0.05 in both.\n\n"
            } else {
                out += "The report's \(rows.count) tests of each kind form one family, adjusted by \(methodName)'s procedure "
                out += "(evaluation.correction: \(method.rawValue)); † marks an adjusted p < 0.05 in both.\n\n"
            }
            out += "MDE is the smallest true mean difference the t-test would detect with 80% power at α = 0.05 (before the correction), "
            out += "from the observed per-user differences: a difference in |Δ| below it was not resolvable with these users.\n\n"
            if index == 0 {
                for (column, same) in family.repeats.sorted(by: { $0.key.description < $1.key.description }) {
                    out += "Each user's \(column) is their \(same), so the tests of \(column) are those of \(same) and are not repeated.\n\n"
                }
            }
            let against = Set(section.pairs.map(\.1))
            let header = against.count == 1 ? Markdown.text(against.first!) : "against (mean)"
            out += "| pipeline | metric | mean | \(header) | Δ | MDE | t-test p | Wilcoxon p |" + (method == .none ? "" : " adjusted t / W |") + "\n"
            out += "|---|---|---:|---:|---:|---:|---:|---:|" + (method == .none ? "" : "---:|") + "\n"
            for row in rows where row.section == index {
                let label = comparisonLabel(row.pipeline, row.other, oneBaseline: against.count == 1)
                out += "| \(label) | \(row.column) | " + String(format: "%.4f | %.4f | %+.4f | ", row.a, row.b, row.a - row.b) + (row.mde.map { String(format: "%.4f", $0) } ?? "–")
                out += " | \(pValue(row.t)) | \(pValue(row.w))"
                let mark = row.survives ? " †" : ""
                out += method == .none ? "\(mark) |\n" : " | \(pValue(row.t.map { _ in row.adjustedT })) / \(pValue(row.w.map { _ in row.adjustedW }))\(mark) |\n"
            }
            out += "\n"
        }
        return out
    }

    /// A significance row's first cell: the pipeline alone where the section compares every
    /// pipeline with one baseline, else "pipeline vs other".
    static func comparisonLabel(_ pipeline: String, _ other: String, oneBaseline: Bool) -> String {
        oneBaseline ? Markdown.text(pipeline) : "\(Markdown.text(pipeline)) vs \(Markdown.text(other))"
    }

    /// 95% percentile-bootstrap intervals of each pipeline's mean per-user value (users
    /// resampled 1,000 times, seeded), as a table and as one dot-and-interval figure per metric.
    /// For metrics computed over all pairs at once (AUC and LogLoss in the ctr protocol, RMSE)
    /// the per-user mean differs from the table's figure.
    static func intervalSection(data: ReportData, figures: inout FigureSet) throws -> String {
        let info = data.info, columns = data.columns
        var table: [String: [MetricKey: (mean: Double, low: Double, high: Double)]] = [:]
        for pipeline in info.pipelines {
            for column in columns { table[pipeline, default: [:]][column] = try data.interval(pipeline, column) }
        }
        let lines = info.pipelines.filter { !(table[$0]?.isEmpty ?? true) }.map { pipeline in
            "| \(Markdown.text(pipeline)) | "
                + columns.map { column in table[pipeline]?[column].map { String(format: "%.4f [%.4f, %.4f]", $0.mean, $0.low, $0.high) } ?? "–" }
                .joined(separator: " | ") + " |"
        }
        guard !lines.isEmpty else { return "" }
        var out = "## Confidence intervals\n\n"
        out += "Mean per-user value with its 95% bootstrap interval (users resampled 1,000 times, seeded; each user's value averaged over seeds). "
        out += "Where a metric is computed over all pairs at once (AUC and LogLoss in the ctr protocol, RMSE), the per-user mean differs from the results table.\n\n"
        out += "| pipeline | " + columns.map(\.description).joined(separator: " | ") + " |\n"
        out += "|---|" + columns.map { _ in "---:|" }.joined() + "\n"
        out += lines.joined(separator: "\n") + "\n\n"
        for column in columns {
            let higher = ReportData.higherIsBetter(column)
            let rows = info.pipelines.compactMap { pipeline in
                table[pipeline]?[column].map {
                    Plot.Interval(label: pipeline, mean: $0.mean, low: $0.low, high: $0.high, color: info.pipelines.firstIndex(of: pipeline))
                }
            }.sorted { higher ? $0.mean > $1.mean : $0.mean < $1.mean }
            guard !rows.isEmpty else { continue }
            let title = "\(info.name): \(column) per pipeline"
            out += figures.add(
                "\(column).svg", title: title,
                svg: Plot.intervals(title: title, metric: "\(column) (mean per user)", rows: rows, note: "dot: mean per user; bar: 95% bootstrap interval; best first"))
        }
        return out
    }

    static func pValue(_ p: Double?) -> String {
        guard let p else { return "–" }
        return p < 1e-4 ? "<0.0001" : String(format: "%.4f", p)
    }

    static func meanStd(_ values: [Double]) -> (mean: Double, std: Double, n: Int) {
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return (mean, 0, 1) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return (mean, variance.squareRoot(), values.count)
    }

    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }
}
