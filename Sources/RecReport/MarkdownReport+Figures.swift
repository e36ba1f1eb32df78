import Foundation
import RecCore
import RecEval
import RecStore

/// The figures of one report, with the Markdown that shows each.
struct FigureSet {
    let folder: String
    private(set) var figures: [Figure] = []

    init(folder: String) { self.folder = folder }

    /// Adds a figure under a file-safe form of `name` and returns the Markdown image that shows
    /// it, with its title as caption.
    mutating func add(_ name: String, title: String, svg: String) -> String {
        var file = String(name.map { $0.isLetter || $0.isNumber || "@._-".contains($0) ? $0 : "-" })
        while figures.contains(where: { $0.name == file }) { file = "x-" + file }
        figures.append(Figure(name: file, title: title, svg: svg))
        let path = folder.isEmpty ? file : folder + "/" + file
        // A link target with spaces or parentheses (a report named by the user) is escaped.
        let target = path.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-/")) ?? path
        return "![\(Markdown.text(title))](\(target))\n\n"
    }
}

extension MarkdownReport {
    /// The headline columns plotted beyond the interval charts: the first metric at each cutoff.
    static func headline(_ data: ReportData) -> [MetricKey] {
        data.columns.filter { $0.name == data.columns.first?.name }
    }

    /// For each headline column, the metric against the swept value, one line per pipeline the
    /// sweep changes, with 95% bootstrap intervals. A single numeric sweep axis is drawn to
    /// scale (the base point at the spec's value); anything else as categories.
    static func sweepFigures(data: ReportData, figures: inout FigureSet) throws -> String {
        let info = data.info
        let varying = info.pipelines.filter { pipeline in
            Set(info.points.map { $0.cells.filter { $0.pipeline == pipeline }.map(\.key) }).count > 1
        }
        guard !varying.isEmpty else { return "" }
        let paths = Set(info.points.flatMap { ($0.settings ?? []).map { $0[0] } })
        let numbers = info.points.map { $0.settings?.first.flatMap { Double($0[1]) } }
        let numeric = paths.count == 1 && numbers.allSatisfy { $0 != nil }
        let values = numbers.compactMap { $0 }
        let toScale = numeric && (values.min()! <= 0 || values.max()! / values.min()! < 30)
        // Categories: by value when the axis is numeric, else in plan order.
        let order = numeric ? info.points.indices.sorted { numbers[$0]! < numbers[$1]! } : Array(info.points.indices)
        let categories = toScale ? nil : order.map { numeric ? info.points[$0].settings![0][1] : info.points[$0].label }
        let axisName = paths.count == 1 ? paths.first! : "sweep point"
        let isFraction = axisName.lowercased().contains("fraction")
        var out = ""
        for column in headline(data) {
            var series: [Plot.Series] = []
            for pipeline in varying {
                var points: [(x: Double, y: Double, low: Double?, high: Double?)] = []
                for (position, index) in order.enumerated() {
                    let point = info.points[index]
                    let x = toScale ? numbers[index]! : Double(position)
                    if let interval = try data.interval(pipeline, column, at: point) {
                        points.append((x, interval.mean, interval.low, interval.high))
                    } else if let summary = data.summary(column, pipeline, at: point) {
                        points.append((x, summary.mean, nil, nil))
                    }
                }
                if !points.isEmpty { series.append(Plot.Series(name: pipeline, points: points, color: info.pipelines.firstIndex(of: pipeline))) }
            }
            guard !series.isEmpty else { continue }
            let title = isFraction ? "\(info.name): \(column) against the training fraction" : "\(info.name): \(column) across the sweep"
            out += figures.add(
                "sweep-\(column).svg", title: title,
                svg: Plot.lines(
                    title: title, xLabel: axisName.hasPrefix("pipelines.") ? String(axisName.dropFirst(10)) : axisName, yLabel: "\(column) (mean per user)",
                    series: series, categories: categories, note: "bars: 95% bootstrap intervals over users; base point at the spec's value"))
        }
        return out
    }

    /// Learning curves from the per-epoch series stored with each cell: for each pipeline and
    /// series (training loss, a validation metric), one line per seed.
    static func learningCurves(data: ReportData, figures: inout FigureSet) throws -> String {
        var out = ""
        for pipeline in data.info.pipelines {
            var bySeries: [String: [Plot.Series]] = [:]
            for (ref, cell) in data.doneCells(data.base, pipeline) {
                for (series, points) in try data.store.curves(cell: cell.id) where points.count > 1 {
                    bySeries[series, default: []].append(Plot.Series(name: "seed \(ref.seed)", points: points.map { (Double($0.step), $0.value, nil, nil) }))
                }
            }
            for series in bySeries.keys.sorted() {
                let title = "\(pipeline): \(series) per epoch"
                out += figures.add(
                    "curve-\(pipeline)-\(series).svg", title: title,
                    svg: Plot.lines(title: title, xLabel: "epoch", yLabel: series, series: bySeries[series]!))
            }
        }
        return out.isEmpty ? "" : "## Learning curves\n\nPer-epoch values stored with each cell (a model restored from the stage cache keeps the curves of the training that made it).\n\n" + out
    }

    /// The corrected estimates of sampled metrics beside the raw ones, and, where the store holds
    /// the same pipelines under full ranking on the same data and split, the order of the
    /// pipelines under each.
    static func sampledCorrectionSection(data: ReportData) throws -> String {
        let info = data.info
        let corrected = data.columns.filter { column in
            info.pipelines.contains { data.summary(MetricKey(RankingEvaluator.correctedPrefix + column.name, column.k), $0) != nil }
        }
        guard !corrected.isEmpty else { return "" }
        let full = try fullRankingTwin(of: data)
        var out = "## Sampled metrics corrected to full ranking\n\n"
        out += "Sampled figures with Krichene and Rendle's corrected estimate of the full-ranking metric (KDD 2020; bias–variance correction, γ = \(SampledCorrection.gamma), "
        out += "uniform prior over full ranks, hypergeometric draws of the sampled negatives): raw → corrected, means over seeds"
        out += full.map { ", with the figure measured under full ranking by \(Markdown.code($0.info.name)) in brackets" } ?? ""
        out += ".\n\n"
        out += "| pipeline | " + corrected.map(\.description).joined(separator: " | ") + " |\n|---|" + corrected.map { _ in "---:|" }.joined() + "\n"
        for pipeline in info.pipelines {
            out += "| \(Markdown.text(pipeline)) | "
            out +=
                corrected.map { column in
                    guard let raw = data.summary(column, pipeline)?.mean,
                        let fixed = data.summary(MetricKey(RankingEvaluator.correctedPrefix + column.name, column.k), pipeline)?.mean
                    else { return "–" }
                    let measured = full?.summary(column, pipeline).map { String(format: " [%.4f]", $0.mean) } ?? ""
                    return String(format: "%.4f → %.4f", raw, fixed) + measured
                }.joined(separator: " | ") + " |\n"
        }
        out += "\n"
        guard let full else {
            return out + "No experiment in this store ranks the same pipelines over the full catalogue on the same data and split, so the orders are not compared.\n\n"
        }
        out += "Order of the pipelines, best first, against \(Markdown.code(full.info.name)) (full ranking, same data fingerprint and split):\n\n"
        out += "| metric | full ranking | sampled | corrected | sampled order | corrected order |\n|---|---|---|---|---|---|\n"
        let shared = info.pipelines.filter { full.info.pipelines.contains($0) }
        for column in corrected {
            func order(_ source: ReportData, _ key: MetricKey) -> [String] {
                shared.compactMap { pipeline in source.summary(key, pipeline).map { (pipeline, $0.mean) } }.sorted { $0.1 > $1.1 }.map(\.0)
            }
            let truth = order(full, column), raw = order(data, column)
            let fixed = order(data, MetricKey(RankingEvaluator.correctedPrefix + column.name, column.k))
            guard truth.count == shared.count else { continue }
            func text(_ list: [String]) -> String { list.map(Markdown.text).joined(separator: " > ") }
            out += "| \(column) | \(text(truth)) | \(text(raw)) | \(text(fixed)) | \(raw == truth ? "same" : "differs") | \(fixed == truth ? "same" : "differs") |\n"
        }
        return out + "\n"
    }

    /// An experiment in the same store with the same data fingerprint and split, ranked over the
    /// full catalogue, sharing at least two pipeline names.
    static func fullRankingTwin(of data: ReportData) throws -> ReportData? {
        for record in try data.store.experiments() where record.name != data.info.name {
            guard let other = try? ReportData(store: data.store, experiment: record.name),
                other.info.protocolDescription.hasPrefix("full ranking"), other.info.split == data.info.split,
                other.fingerprint != nil, other.fingerprint == data.fingerprint,
                other.info.pipelines.filter(data.info.pipelines.contains).count >= 2
            else { continue }
            return other
        }
        return nil
    }
}
