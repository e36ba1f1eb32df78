import Foundation
import RecCore
import RecEval
import RecStore

/// The report's numbers in the forms papers and users' own scripts take: a LaTeX table
/// (booktabs), one CSV row per cell, metric and seed, and the per-user values as CSV.
public enum ReportExport {
    /// The results table as a LaTeX `table` with booktabs rules: mean ± standard deviation over
    /// seeds, the best of each column in bold, † where the pipeline differs from the baseline in
    /// both paired tests after the report's correction.
    public static func latex(_ data: ReportData) throws -> String {
        let info = data.info, columns = data.columns
        let family = try SignificanceFamily(data: data)
        var out = "% \(info.name): rendered by `reclab report \(info.name) --format latex`; needs \\usepackage{booktabs}\n"
        out += "\\begin{table}[t]\n\\centering\n\\small\n"
        out += "\\begin{tabular}{l" + String(repeating: "r", count: columns.count) + "}\n\\toprule\n"
        out += "Pipeline & " + columns.map { escape($0.description) }.joined(separator: " & ") + " \\\\\n\\midrule\n"
        for pipeline in info.pipelines {
            let cells = columns.map { column -> String in
                guard let value = data.summary(column, pipeline) else { return "--" }
                let all = info.pipelines.compactMap { data.summary(column, $0)?.mean }
                var text = value.n > 1 ? String(format: "%.4f $\\pm$ %.4f", value.mean, value.std) : String(format: "%.4f", value.mean)
                if ReportData.isBest(value.mean, among: all, on: column) { text = "\\textbf{\(text)}" }
                if family.differsFromBaseline(pipeline, column) { text += "$^\\dagger$" }
                return text
            }
            out += escape(pipeline) + " & " + cells.joined(separator: " & ") + " \\\\\n"
        }
        out += "\\bottomrule\n\\end{tabular}\n"
        var caption = "\(escape(info.name)): " + (info.seeds.count == 1 ? "one seed" : "mean $\\pm$ standard deviation over \(info.seeds.count) seeds") + "; best in bold."
        if let baseline = info.baseline {
            let correction = ["holm": "after Holm's correction", "bh": "after the Benjamini-Hochberg correction", "none": "without correction"][family.method.rawValue]!
            caption += " $^\\dagger$: differs from \(escape(baseline)) in a paired t-test and a Wilcoxon signed-rank test, both p $<$ 0.05 \(correction)."
        }
        out += "\\caption{\(caption)}\n\\label{tab:\(info.name.filter { $0.isLetter || $0.isNumber || $0 == "-" })}\n\\end{table}\n"
        return out
    }

    /// One row per finished cell, metric and seed: experiment, point, pipeline, seed, metric,
    /// k, value (RFC 4180 quoting).
    public static func csv(_ data: ReportData) throws -> String {
        var out = "experiment,point,pipeline,seed,metric,k,value\n"
        for point in data.info.points {
            for ref in point.cells {
                guard let values = data.metricsByCell[ref.key] else { continue }
                for key in values.keys.sorted() {
                    let value = values[key]!
                    out += [data.info.name, point.label, ref.pipeline, String(ref.seed), key.name, String(key.k), value.isNaN ? "" : String(value)].map(field).joined(separator: ",") + "\n"
                }
            }
        }
        return out
    }

    /// Every per-user value of the finished cells: experiment, point, pipeline, seed, metric,
    /// k, user_index (the data's internal user index, the same in every cell on the same data,
    /// so rows pair across pipelines), value.
    public static func perUserCSV(_ data: ReportData) throws -> String {
        var out = "experiment,point,pipeline,seed,metric,k,user_index,value\n"
        for point in data.info.points {
            for ref in point.cells {
                guard let cell = data.byKey[ref.key], cell.status == .done else { continue }
                let rows = try data.store.db.query("SELECT name, k, users, vals FROM user_metrics WHERE cell_id=? ORDER BY name, k", [.int(cell.id)])
                for row in rows {
                    let users = PerUserBlob.users(row[2].blob ?? []), values = PerUserBlob.values(row[3].blob ?? [])
                    let prefix = [data.info.name, point.label, ref.pipeline, String(ref.seed), row[0].text ?? "", String(row[1].int ?? 0)].map(field).joined(separator: ",")
                    for (user, value) in zip(users, values) {
                        out += prefix + "," + String(user) + "," + (value.isNaN ? "" : String(value)) + "\n"
                    }
                }
            }
        }
        return out
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Text for LaTeX: its special characters escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "\\": out += "\\textbackslash{}"
            case "&", "%", "$", "#", "_", "{", "}": out += "\\" + String(ch)
            case "~": out += "\\textasciitilde{}"
            case "^": out += "\\textasciicircum{}"
            case "@": out += "@"
            default: out.append(ch)
            }
        }
        return out
    }
}
