import Foundation
import RecCore
import RecReport
import RecStore

enum ReportCommand: Command {
    static let name = "report"
    static let summary = "re-render an experiment's report (Markdown with figures, LaTeX, CSV) from the results database"
    static let usage = """
        Usage: reclab report NAME [--db PATH] [--format markdown|latex|csv] [--out PATH | --stdout]
                                  [--per-user FILE.csv]

        Renders the report of experiment NAME from the database alone (the same files byte for
        byte as the ones `reclab run` wrote).

        Formats:
          markdown  the full report (default: Reports/NAME.md), its SVG figures in the folder
                    beside it (Reports/NAME-figures/)
          latex     the results table for a paper: booktabs, mean ± std over seeds, best in bold,
                    † where a pipeline differs from the baseline after the report's correction
                    (default: Reports/NAME.tex)
          csv       one row per cell, metric and seed (default: Reports/NAME.csv)

        --per-user FILE.csv  also writes every per-user value (one row per cell, metric and
                             user), for tests of your own.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--db", "--out", "--format", "--per-user"], flags: ["--stdout"])
        let name = try args.positionals(1, "the experiment NAME")[0]
        let format = args.value("--format") ?? "markdown"
        let extensions = ["markdown": "md", "latex": "tex", "csv": "csv"]
        guard let ext = extensions[format] else { throw RecError.usage("--format takes markdown, latex or csv, not '\(format)'") }
        let store = try ResultStore(path: args.value("--db") ?? "reclab.sqlite", readOnly: true)
        let path = args.value("--out") ?? "Reports/\(name).\(ext)"
        if let perUser = args.value("--per-user") {
            try write(try ReportExport.perUserCSV(try ReportData(store: store, experiment: name)), to: perUser)
            print(perUser)
        }
        switch format {
        case "markdown":
            let rendered = try MarkdownReport.render(store: store, experiment: name, figureFolder: figureFolder(for: path))
            if args.has("--stdout") { print(rendered.markdown, terminator: "") } else { try writeRendered(rendered, to: path) }
        default:
            let data = try ReportData(store: store, experiment: name)
            let text = format == "latex" ? try ReportExport.latex(data) : try ReportExport.csv(data)
            if args.has("--stdout") { print(text, terminator: "") } else { try write(text, to: path) }
        }
        if !args.has("--stdout") { print(path) }
        return 0
    }

    static func write(_ text: String, to path: String) throws {
        do {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw RecError(.io, "cannot write '\(path)': \(describeSystemError(error))")
        }
    }
}

enum MergeCommand: Command {
    static let name = "merge"
    static let summary = "merge results databases (e.g. of shards) into one"
    static let usage = """
        Usage: reclab merge --db TARGET SOURCE... [--results-only]

        Copies every finished cell, its metrics, per-user values and timings, the dataset records,
        the artifacts and the cached language-model calls of each SOURCE database into TARGET.
        Cells finished in TARGET stay.

        Options:
          --results-only   leave calls and every artifact but the cells' notes and examples
                           behind: TARGET holds what `reclab report` reads, a small file that
                           carries finished cells to another machine

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--db"], flags: ["--results-only"])
        guard let target = args.value("--db") else { throw RecError.usage("--db TARGET is required") }
        guard !args.positionals.isEmpty else { throw RecError.usage("missing SOURCE database(s)") }
        let store = try ResultStore(path: target)
        for source in args.positionals {
            let copied = try store.merge(from: source, resultsOnly: args.has("--results-only"))
            print("\(source): \(copied) cell(s) copied")
        }
        return 0
    }
}
