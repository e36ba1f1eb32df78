import AllPlugins
import Foundation
import RecCore
import RecData
import RecReport
import RecRunner
import RecSpec
import RecStore

/// Loads a spec with overrides and expands it against the registry.
func loadPlan(_ file: String, _ args: CommandArguments) throws -> ExperimentPlan {
    _ = try InputFile.size(file, what: "spec file", kind: .spec)
    let maxCells = try args.int("--max-cells", default: SpecLoader.defaultMaxCells, in: 1...100_000_000)
    return try ExperimentPlan(try SpecLoader.load(path: file, overrides: args.values("--set"), maxCells: maxCells), registry: try makeRegistry())
}

/// `i/n` with 0 <= i < n.
func parseShard(_ text: String?) throws -> (Int, Int)? {
    guard let text else { return nil }
    let parts = text.split(separator: "/").map { Int($0) }
    guard parts.count == 2, let index = parts[0], let count = parts[1], count > 0, (0..<count).contains(index) else {
        throw RecError.usage("--shard expects i/n with 0 <= i < n (e.g. 0/4), got '\(text)'")
    }
    return (index, count)
}

/// The cells of `plan` to run with their plan indexes: one shard of the plan (every count-th
/// cell) when `shard` is given, and of those the named pipelines' cells (comma-separated, in
/// the order named) when `pipelines` is.
func selectCells(_ plan: ExperimentPlan, pipelines: String?, shard: (Int, Int)?) throws -> [(index: Int, cell: ExperimentPlan.Cell)] {
    let cells = plan.shard(shard?.0 ?? 0, of: shard?.1 ?? 1)
    guard let pipelines else { return cells }
    let names = pipelines.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !names.isEmpty else {
        throw RecError.usage("--pipelines needs at least one pipeline name; '\(plan.info.name)' has \(plan.info.pipelines.joined(separator: ", "))")
    }
    for name in names where !plan.info.pipelines.contains(name) {
        throw RecError.usage("--pipelines: no pipeline '\(name)' in experiment '\(plan.info.name)'; it has \(plan.info.pipelines.joined(separator: ", "))")
    }
    return names.flatMap { name in cells.filter { $0.cell.pipeline.name == name } }
}

/// Writes the report of `experiment` to `path`, its figures into the folder beside it
/// (`NAME-figures` for `NAME.md`), creating both.
func writeReport(store: ResultStore, experiment: String, path: String) throws {
    let rendered = try MarkdownReport.render(store: store, experiment: experiment, figureFolder: figureFolder(for: path))
    try writeRendered(rendered, to: path)
}

/// The folder name, relative to the report, that holds a report's figures.
func figureFolder(for reportPath: String) -> String {
    ((reportPath as NSString).lastPathComponent as NSString).deletingPathExtension + "-figures"
}

/// Writes a report's figures, then its Markdown. Figures a previous rendering left in the
/// folder that this one no longer draws are removed, so the folder matches the report.
func writeRendered(_ rendered: MarkdownReport.Rendered, to path: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
    let figures = folder.appendingPathComponent(figureFolder(for: path))
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if !rendered.figures.isEmpty { try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true) }
        let keep = Set(rendered.figures.map(\.name))
        for old in (try? FileManager.default.contentsOfDirectory(atPath: figures.path)) ?? [] where old.hasSuffix(".svg") && !keep.contains(old) {
            try FileManager.default.removeItem(at: figures.appendingPathComponent(old))
        }
        for figure in rendered.figures {
            try Data(figure.svg.utf8).write(to: figures.appendingPathComponent(figure.name), options: .atomic)
        }
        try Data(rendered.markdown.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw RecError(.io, "cannot write the report '\(path)': \(describeSystemError(error))")
    }
}

enum RunCommand: Command {
    static let name = "run"
    static let summary = "train and evaluate every cell of a spec, log to SQLite, write the report"
    static let usage = """
        Usage: reclab run FILE [options]

        Runs every cell (pipeline x sweep point x seed) of the experiment in FILE. Finished cells
        already in the database are skipped, so a killed run resumes where it stopped.

        Options:
          --db PATH            results database (default: reclab.sqlite)
          --set KEY=VALUE      override a spec value, e.g. --set pipelines.ease.retriever.l2=500
                               (repeatable; checked like values in the file)
          --shard I/N          run only shard I of N (0-based): cells I, I+N, I+2N, ...
          --pipelines A,B      run only the cells of these pipelines, in this order (the
                               report still covers every finished cell of the experiment)
          --data-root DIR      where datasets live (default: $RECLAB_DATA or ../shared/data)
          --report PATH        where to write the report (default: Reports/<name>.md)
          --no-report          do not write a report
          --max-cells N        allow plans of more than 10000 cells
          --stages-only        build the selected cells' stages before training (augment
                               texts, encoder vectors, derived artifacts), each distinct
                               chain once, and train nothing: jobs that start from a copy
                               of this database then restore them (reclab submit runs it
                               first)
          --quiet              no progress output

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(
            raw, options: ["--db", "--set", "--shard", "--pipelines", "--data-root", "--report", "--max-cells"], flags: ["--no-report", "--quiet", "--stages-only"])
        let file = try args.positionals(1, "the spec FILE")[0]
        let plan = try loadPlan(file, args)
        let shard = try parseShard(args.value("--shard"))
        let store = try ResultStore(path: args.value("--db") ?? "reclab.sqlite")
        let progress = ProgressReporter(quiet: args.has("--quiet"))
        let runner = Runner(
            registry: try makeRegistry(), store: store, data: DataStage(catalog: DataCatalog(root: args.value("--data-root"))),
            progress: progress)
        let cells = try selectCells(plan, pipelines: args.value("--pipelines"), shard: shard).map(\.cell)
        progress.line("\(plan.info.name): \(cells.count) cell(s)" + (shard.map { " in shard \($0.0)/\($0.1)" } ?? "") + " of \(plan.cells.count)")
        if args.has("--stages-only") {
            let built = try runner.buildStages(cells)
            progress.line("\(built.chains) distinct chain(s) of stages ready; \(built.withoutStages) cell(s) have none")
            return 0
        }
        let summary = try runner.run(plan, cells: cells)
        progress.line("ran \(summary.ran), skipped \(summary.skipped) already done, failed \(summary.failed.count)")
        if !args.has("--no-report") {
            let path = args.value("--report") ?? "Reports/\(plan.info.name).md"
            try writeReport(store: store, experiment: plan.info.name, path: path)
            progress.line("report: \(path)")
        }
        for failure in summary.failed { printError(failure) }
        return summary.failed.isEmpty ? 0 : 1
    }
}

enum ValidateCommand: Command {
    static let name = "validate"
    static let summary = "check a spec (YAML, keys, types, plugins, sweep paths) without running it"
    static let usage = """
        Usage: reclab validate FILE [--set KEY=VALUE]... [--max-cells N]

        Parses FILE, applies extends and overrides, expands the sweep, and decodes every plugin
        configuration strictly. Prints the number of cells, or the first error as file:line:column.
        A plan of more than 10000 cells is refused unless --max-cells allows it.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--set", "--max-cells"], flags: [])
        let file = try args.positionals(1, "the spec FILE")[0]
        let plan = try loadPlan(file, args)
        print("\(file): ok, experiment '\(plan.info.name)', \(plan.info.pipelines.count) pipeline(s), \(plan.loaded.points.count - 1) sweep point(s), \(plan.cells.count) cell(s)")
        return 0
    }
}
