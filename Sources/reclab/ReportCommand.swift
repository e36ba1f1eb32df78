import Foundation
import RecCore
import RecReport
import RecStore

enum ReportCommand: Command {
    static let name = "report"
    static let summary = "re-render an experiment's Markdown report from the results database"
    static let usage = """
        Usage: reclab report NAME [--db PATH] [--out PATH | --stdout]

        Renders the report of experiment NAME from the database alone (the same file byte for
        byte as the one `reclab run` wrote). Default output: Reports/NAME.md.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--db", "--out"], flags: ["--stdout"])
        let name = try args.positionals(1, "the experiment NAME")[0]
        let store = try ResultStore(path: args.value("--db") ?? "reclab.sqlite", readOnly: true)
        if args.has("--stdout") {
            print(try MarkdownReport.render(store: store, experiment: name), terminator: "")
        } else {
            let path = args.value("--out") ?? "Reports/\(name).md"
            try writeReport(store: store, experiment: name, path: path)
            print(path)
        }
        return 0
    }
}

enum MergeCommand: Command {
    static let name = "merge"
    static let summary = "merge results databases (e.g. of shards) into one"
    static let usage = """
        Usage: reclab merge --db TARGET SOURCE...

        Copies every finished cell, its metrics, per-user values and timings, the dataset records
        and the artifacts of each SOURCE database into TARGET. Cells finished in TARGET stay.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--db"], flags: [])
        guard let target = args.value("--db") else { throw RecError.usage("--db TARGET is required") }
        guard !args.positionals.isEmpty else { throw RecError.usage("missing SOURCE database(s)") }
        let store = try ResultStore(path: target)
        for source in args.positionals {
            let copied = try store.merge(from: source)
            print("\(source): \(copied) cell(s) copied")
        }
        return 0
    }
}
