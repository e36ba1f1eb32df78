import Foundation
import RecCore
import RecReport
import RecStore

enum CompareCommand: Command {
    static let name = "compare"
    static let summary = "a leaderboard across experiments on the same data, split and protocol"
    static let usage = """
        Usage: reclab compare NAME NAME... [--db PATH]... [--out PATH | --stdout]

        Ranks every pipeline of the named experiments on the metrics they share, tests each
        against the leader on the same users (paired t-test and Wilcoxon, Holm-adjusted, with the
        minimum detectable effect), and draws each metric's 95% intervals. Experiments whose data
        fingerprint, split or evaluation protocol differ are refused, with the difference named.

        Each NAME is looked up in the databases in the order given (default: reclab.sqlite);
        NAME may also be written DB.sqlite:NAME. Default output: Reports/compare-NAME-NAME.md,
        figures in the folder beside it.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--db", "--out"], flags: ["--stdout"])
        let names = args.positionals
        guard names.count >= 2 else { throw RecError.usage("compare needs at least two experiment names") }
        var stores: [String: ResultStore] = [:]
        func store(_ path: String) throws -> ResultStore {
            if let open = stores[path] { return open }
            let opened = try ResultStore(path: path, readOnly: true)
            stores[path] = opened
            return opened
        }
        let databases = args.values("--db").isEmpty ? ["reclab.sqlite"] : args.values("--db")
        var entries: [ReportData] = []
        for name in names {
            if let colon = name.lastIndex(of: ":"), name[..<colon].hasSuffix(".sqlite") {
                entries.append(try ReportData(store: try store(String(name[..<colon])), experiment: String(name[name.index(after: colon)...])))
                continue
            }
            var found: ReportData?
            for path in databases where found == nil {
                let candidate = try store(path)
                if try candidate.experiments().contains(where: { $0.name == name }) { found = try ReportData(store: candidate, experiment: name) }
            }
            guard let found else { throw RecError(.store, "no experiment named '\(name)' in \(databases.joined(separator: ", "))") }
            entries.append(found)
        }
        let path = args.value("--out") ?? "Reports/compare-\(names.map { ($0 as NSString).lastPathComponent.replacingOccurrences(of: ":", with: "-") }.joined(separator: "-")).md"
        let rendered = try CompareReport.render(entries, figureFolder: figureFolder(for: path))
        if args.has("--stdout") {
            print(rendered.markdown, terminator: "")
        } else {
            try writeRendered(rendered, to: path)
            print(path)
        }
        return 0
    }
}
