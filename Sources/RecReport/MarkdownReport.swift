import Foundation
import RecCore
import RecEval
import RecStore

/// Renders an experiment's Markdown report from the results store alone, so `reclab report`
/// reproduces the file byte for byte.
public enum MarkdownReport {
    public static func render(store: ResultStore, experiment name: String) throws -> String {
        let record = try store.experiment(named: name)
        let info = try JSONDecoder().decode(ExperimentInfo.self, from: Data(record.infoJSON.utf8))
        let cells = try store.cells(of: record)
        let byKey = Dictionary(uniqueKeysWithValues: cells.map { ($0.key, $0) })
        var metricsByCell: [String: [MetricKey: Double]] = [:]
        for cell in cells where cell.status == .done {
            var values: [MetricKey: Double] = [:]
            for metric in try store.metrics(cell: cell.id) { values[MetricKey(metric.name, metric.k)] = metric.value }
            metricsByCell[cell.key] = values
        }
        let columns = info.metrics.flatMap { metric -> [MetricKey] in
            (MetricCatalog.definition(metric)?.usesCutoff ?? true) ? info.cutoffs.map { MetricKey(metric, $0) } : [MetricKey(metric)]
        }
        guard let base = info.points.first else { throw RecError(.store, "experiment '\(name)' has no planned cells") }
        func keys(_ point: ExperimentInfo.Point, _ pipeline: String) -> [String] {
            point.cells.filter { $0.pipeline == pipeline }.map(\.key)
        }

        var out = "# \(info.name)\n\n"
        if let description = info.description { out += description.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n" }
        let overrides = (info.overrides ?? []).map { " --set \($0)" }.joined()
        out += "Rendered from the results store by `reclab report \(info.name)`; produced by `reclab run \(info.specFile)\(overrides)`.\n\n"

        // MARK: Data and protocol
        out += "## Data and protocol\n\n"
        if let fingerprint = cells.lazy.compactMap(\.dataFingerprint).first, let json = try store.datasetStats(fingerprint: fingerprint) {
            out += datasetSection(json, fingerprint: fingerprint)
        } else {
            out += "- Dataset: \(info.dataset) (no finished cell yet)\n"
        }
        out += "- Split: \(info.split)\n"
        out += "- Protocol: \(info.protocolDescription)\n"
        out += "- Seeds: \(info.seeds.map(String.init).joined(separator: ", ")) (mean ± sample standard deviation over seeds)\n"
        let done = cells.filter { $0.status == .done }.count
        out += "- Cells: \(done) of \(cells.count) finished\n\n"

        // MARK: Results
        out += "## Results\n\n"
        out += "| pipeline | " + columns.map(\.description).joined(separator: " | ") + " |\n"
        out += "|---|" + columns.map { _ in "---:|" }.joined() + "\n"
        var summaries: [String: [MetricKey: (mean: Double, std: Double, n: Int)]] = [:]
        for pipeline in info.pipelines {
            var row: [MetricKey: (Double, Double, Int)] = [:]
            for column in columns {
                let values = keys(base, pipeline).compactMap { metricsByCell[$0]?[column] }.filter { !$0.isNaN }
                if !values.isEmpty { row[column] = meanStd(values) }
            }
            summaries[pipeline] = row
        }
        for pipeline in info.pipelines {
            let cellsText = columns.map { column -> String in
                guard let value = summaries[pipeline]?[column] else { return "–" }
                let higher = MetricCatalog.definition(column.name)?.higherIsBetter ?? true
                let all = info.pipelines.compactMap { summaries[$0]?[column]?.mean }
                let best = higher ? all.max() : all.min()
                let text = value.n > 1 ? String(format: "%.4f ± %.4f", value.mean, value.std) : String(format: "%.4f", value.mean)
                return value.mean == best && Set(all).count > 1 ? "**\(text)**" : text
            }
            out += "| \(Markdown.text(pipeline)) | " + cellsText.joined(separator: " | ") + " |\n"
        }
        out += "\nPipelines:\n\n"
        for pipeline in info.pipelines { out += "- \(Markdown.code(pipeline)): \(info.pipelineComponents[pipeline] ?? "?")\n" }
        out += "\n"

        // MARK: Significance
        var sections: [(title: String, pairs: [(String, String)])] = []
        if let baseline = info.baseline {
            sections.append(("Significance against `\(baseline)`", info.pipelines.filter { $0 != baseline }.map { ($0, baseline) }))
        }
        if let comparisons = info.comparisons, !comparisons.isEmpty {
            sections.append(("Paired comparisons", comparisons.map { ($0[0], $0[1]) }))
        }
        let values = PerUserValues(store: store, base: base, byKey: byKey)
        if !sections.isEmpty {
            out += try significanceSections(sections, info: info, columns: columns, values: values)
        }
        out += try intervalSection(info: info, columns: columns, values: values)

        // MARK: Ablation
        if info.points.count > 1 {
            out += "## Ablation\n\n"
            out += "Each sweep point against the spec as written (`base`); Δ is the difference of the means.\n\n"
            out += "| point | pipeline | " + columns.map(\.description).joined(separator: " | ") + " |\n"
            out += "|---|---|" + columns.map { _ in "---:|" }.joined() + "\n"
            for point in info.points.dropFirst() {
                for pipeline in info.pipelines where keys(point, pipeline) != keys(base, pipeline) {
                    let values = columns.map { column -> String in
                        let mine = keys(point, pipeline).compactMap { metricsByCell[$0]?[column] }
                        let theirs = keys(base, pipeline).compactMap { metricsByCell[$0]?[column] }
                        guard !mine.isEmpty else { return "–" }
                        let mean = meanStd(mine).mean
                        guard !theirs.isEmpty else { return String(format: "%.4f", mean) }
                        return String(format: "%.4f (%+.4f)", mean, mean - meanStd(theirs).mean)
                    }
                    out += "| \(Markdown.text(point.label)) | \(Markdown.text(pipeline)) | " + values.joined(separator: " | ") + " |\n"
                }
            }
            out += "\n"
        }

        // MARK: Timings
        out += "## Timings\n\n"
        out += "Mean seconds per cell over seeds (fit = training, evaluate = scoring and metrics on the test users).\n\n"
        out += "| pipeline | fit s | evaluate s |\n|---|---:|---:|\n"
        for pipeline in info.pipelines {
            var fit: [Double] = [], evaluate: [Double] = []
            for key in keys(base, pipeline) {
                guard let cell = byKey[key], cell.status == .done else { continue }
                for timing in try store.timings(cell: cell.id) {
                    if timing.stage == "fit" { fit.append(timing.seconds) }
                    if timing.stage == "evaluate" { evaluate.append(timing.seconds) }
                }
            }
            let f = fit.isEmpty ? "–" : String(format: "%.2f", meanStd(fit).mean)
            let e = evaluate.isEmpty ? "–" : String(format: "%.2f", meanStd(evaluate).mean)
            out += "| \(Markdown.text(pipeline)) | \(f) | \(e) |\n"
        }
        out += try countsSection(store: store, info: info, base: base, byKey: byKey)
        let failures = cells.filter { $0.status == .failed }
        if !failures.isEmpty {
            out += "\n## Failed cells\n\n"
            for cell in failures { out += "- \(Markdown.text(cell.pipeline)) seed \(cell.seed) [\(Markdown.text(cell.sweepLabel))]: \(Markdown.text(cell.error ?? "unknown error"))\n" }
        }
        return out
    }

    /// What the pipelines' components counted, with the notes in which they explain it,
    /// summed over seeds, and the examples they kept, quoted. Empty when nothing counted.
    static func countsSection(
        store: ResultStore, info: ExperimentInfo, base: ExperimentInfo.Point, byKey: [String: ResultStore.CellRecord]
    ) throws -> String {
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
        out += "- Data fingerprint (SHA-256): `\(fingerprint.prefix(16))…`\n"
        return out
    }

    /// Each user's value of a metric for a pipeline, averaged over the seeds of the base point.
    struct PerUserValues {
        var store: ResultStore
        var base: ExperimentInfo.Point
        var byKey: [String: ResultStore.CellRecord]

        func of(_ pipeline: String, _ column: MetricKey) throws -> [Int32: Double]? {
            var sums: [Int32: Double] = [:]
            var seeds = 0
            for ref in base.cells where ref.pipeline == pipeline {
                guard let cell = byKey[ref.key], cell.status == .done,
                    let series = try store.perUser(cell: cell.id, name: column.name, k: column.k)
                else { return nil }
                seeds += 1
                for (user, value) in zip(series.users, series.values) { sums[user, default: 0] += value }
            }
            return seeds == 0 ? nil : sums.mapValues { $0 / Double(seeds) }
        }
    }

    /// The significance tables. All their tests form one family, corrected together (Holm by
    /// default): a row is marked when both of its tests survive the correction at 0.05.
    static func significanceSections(
        _ sections: [(title: String, pairs: [(String, String)])], info: ExperimentInfo, columns: [MetricKey], values: PerUserValues
    ) throws -> String {
        struct Row { var section: Int; var label: String; var column: MetricKey; var a: Double; var b: Double; var t: Double?; var w: Double? }
        var rows: [Row] = []
        for (index, section) in sections.enumerated() {
            let against = Set(section.pairs.map(\.1))
            for (pipeline, other) in section.pairs {
                let label = against.count == 1 ? Markdown.text(pipeline) : "\(Markdown.text(pipeline)) vs \(Markdown.text(other))"
                for column in columns {
                    guard let mine = try values.of(pipeline, column), let theirs = try values.of(other, column) else { continue }
                    let users = mine.keys.filter { theirs[$0] != nil && !mine[$0]!.isNaN && !theirs[$0]!.isNaN }.sorted()
                    guard !users.isEmpty else { continue }
                    let a = users.map { mine[$0]! }, b = users.map { theirs[$0]! }
                    rows.append(
                        Row(
                            section: index, label: label, column: column, a: a.reduce(0, +) / Double(a.count), b: b.reduce(0, +) / Double(b.count),
                            t: Significance.pairedTTest(a, b)?.pValue, w: Significance.wilcoxon(a, b)?.pValue))
                }
            }
        }
        let method = MultipleComparisons.Method(rawValue: info.correction ?? "holm") ?? .holm
        // A test that could not be run (too few pairs) enters the family with p = 1.
        let adjustedT = MultipleComparisons.adjust(rows.map { $0.t ?? 1 }, method: method)
        let adjustedW = MultipleComparisons.adjust(rows.map { $0.w ?? 1 }, method: method)
        let methodName = ["holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"][method.rawValue]!
        var out = ""
        for (index, section) in sections.enumerated() {
            out += "## \(section.title)\n\n"
            out += "Paired tests on per-user values (each user's value averaged over seeds): two-sided paired t-test and "
            out += "Wilcoxon signed-rank (zero differences dropped, normal approximation with tie correction). "
            if method == .none {
                out += "No correction for multiple comparisons (evaluation.correction: none); † marks p < 0.05 in both.\n\n"
            } else {
                out += "The report's \(rows.count) tests of each kind form one family, adjusted by \(methodName)'s procedure "
                out += "(evaluation.correction: \(method.rawValue)); † marks an adjusted p < 0.05 in both.\n\n"
            }
            let against = Set(section.pairs.map(\.1))
            let header = against.count == 1 ? Markdown.text(against.first!) : "against (mean)"
            out += "| pipeline | metric | mean | \(header) | Δ | t-test p | Wilcoxon p |" + (method == .none ? "" : " adjusted t / W |") + "\n"
            out += "|---|---|---:|---:|---:|---:|---:|" + (method == .none ? "" : "---:|") + "\n"
            for (row, (t, w)) in zip(rows, zip(adjustedT, adjustedW)) where row.section == index {
                let survives = t < 0.05 && w < 0.05 && row.t != nil && row.w != nil
                out += "| \(row.label) | \(row.column) | " + String(format: "%.4f | %.4f | %+.4f", row.a, row.b, row.a - row.b)
                out += " | \(pValue(row.t)) | \(pValue(row.w))"
                out += method == .none ? "\(survives ? " †" : "") |\n" : " | \(pValue(row.t.map { _ in t })) / \(pValue(row.w.map { _ in w }))\(survives ? " †" : "") |\n"
            }
            out += "\n"
        }
        return out
    }

    /// 95% percentile-bootstrap intervals of each pipeline's mean per-user value (users
    /// resampled 1,000 times, seeded). For metrics computed over all pairs at once (AUC and
    /// LogLoss in the ctr protocol, RMSE) the per-user mean differs from the table's figure.
    static func intervalSection(info: ExperimentInfo, columns: [MetricKey], values: PerUserValues) throws -> String {
        var lines: [String] = []
        for pipeline in info.pipelines {
            var cells: [String] = []
            var any = false
            for column in columns {
                guard let series = try values.of(pipeline, column) else { cells.append("–"); continue }
                let list = series.keys.sorted().compactMap { series[$0] }.filter { !$0.isNaN }
                guard let interval = MultipleComparisons.bootstrapMean(list) else { cells.append("–"); continue }
                any = true
                cells.append(String(format: "%.4f [%.4f, %.4f]", list.reduce(0, +) / Double(list.count), interval.low, interval.high))
            }
            if any { lines.append("| \(Markdown.text(pipeline)) | " + cells.joined(separator: " | ") + " |") }
        }
        guard !lines.isEmpty else { return "" }
        var out = "## Confidence intervals\n\n"
        out += "Mean per-user value with its 95% bootstrap interval (users resampled 1,000 times, seeded; each user's value averaged over seeds). "
        out += "Where a metric is computed over all pairs at once (AUC and LogLoss in the ctr protocol, RMSE), the per-user mean differs from the results table.\n\n"
        out += "| pipeline | " + columns.map(\.description).joined(separator: " | ") + " |\n"
        out += "|---|" + columns.map { _ in "---:|" }.joined() + "\n"
        return out + lines.joined(separator: "\n") + "\n\n"
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
