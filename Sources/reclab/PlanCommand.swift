import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecStore

enum PlanCommand: Command {
    static let name = "plan"
    static let summary = "list the cells a spec expands to (for schedulers: one shard per job)"
    static let usage = """
        Usage: reclab plan FILE [--set KEY=VALUE]... [--shard I/N] [--pipelines A,B] [--max-cells N]
                              [--jsonl [--db PATH] [--data-root DIR]]

        Prints one line per cell: index, cell key (first 12 hex digits), pipeline, seed, sweep point.
        With --shard, only the cells of that shard; with --pipelines, only those pipelines'.

        --jsonl prints one JSON object per cell instead, for any launcher:

          {"estimate":"cell","estimated_seconds":41.2,"index":0,"key":"…","pipeline":"sasrec",
           "seed":1,"stages":[{"key":"…","stage":"augment","type":"kar.facts"}],"sweep":"base"}

        `stages` are the cell's stages before training (augment, encode, derive) with their
        stage-cache keys: cells that list the same key share that stage's work. The keys
        depend on the data, so --jsonl loads it. `estimated_seconds` is the cell's stored time
        in --db where it ran before (`estimate: cell`), else the mean of the same pipeline's
        finished cells there (`pipeline`); both are absent when neither ran.

        """

    struct Line: Encodable {
        var index: Int
        var key: String
        var pipeline: String
        var seed: UInt64
        var sweep: String
        var stages: [Runner.StageReference]
        var estimatedSeconds: Double?
        var estimate: String?
    }

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--set", "--shard", "--pipelines", "--max-cells", "--db", "--data-root"], flags: ["--jsonl"])
        let file = try args.positionals(1, "the spec FILE")[0]
        let plan = try loadPlan(file, args)
        let shard = try parseShard(args.value("--shard"))
        let cells = try selectCells(plan, pipelines: args.value("--pipelines"), shard: shard)
        guard args.has("--jsonl") else {
            if args.value("--db") != nil || args.value("--data-root") != nil { throw RecError.usage("--db and --data-root go with --jsonl") }
            for (index, cell) in cells {
                print("\(index)\t\(cell.key.prefix(12))\t\(cell.pipeline.name)\tseed=\(cell.seed)\t\(cell.sweepLabel)")
            }
            return 0
        }
        let stored = try args.value("--db").map { try storedSeconds(ResultStore(path: $0, readOnly: true)) } ?? (cells: [:], pipelines: [:])
        let runner = try stageKeyRunner(dataRoot: args.value("--data-root"))
        for (index, cell) in cells {
            var line = Line(
                index: index, key: cell.key, pipeline: cell.pipeline.name, seed: cell.seed, sweep: cell.sweepLabel, stages: try runner.stageReferences(cell))
            if let seconds = stored.cells[cell.key] {
                (line.estimatedSeconds, line.estimate) = (seconds, "cell")
            } else if let seconds = stored.pipelines[cell.pipeline.name] {
                (line.estimatedSeconds, line.estimate) = (seconds, "pipeline")
            }
            print(try canonicalJSON(line))
        }
        return 0
    }

    /// Seconds per finished cell (summed over its stages) by cell key, and their mean by
    /// pipeline name, over every experiment in `store`.
    static func storedSeconds(_ store: ResultStore) throws -> (cells: [String: Double], pipelines: [String: Double]) {
        var cells: [String: Double] = [:], byPipeline: [String: [Double]] = [:]
        for experiment in try store.experiments() {
            for cell in try store.cells(of: experiment) where cell.status == .done {
                let seconds = try store.timings(cell: cell.id).reduce(0) { $0 + $1.seconds }
                cells[cell.key] = seconds
                byPipeline[cell.pipeline, default: []].append(seconds)
            }
        }
        return (cells, byPipeline.mapValues { $0.reduce(0, +) / Double($0.count) })
    }
}

/// A runner that only computes stage keys (from configurations and the data): its store is in
/// memory, so nothing is written, and it reports nothing.
func stageKeyRunner(dataRoot: String?) throws -> Runner {
    Runner(registry: try makeRegistry(), store: try ResultStore(path: ":memory:"), data: DataStage(catalog: DataCatalog(root: dataRoot)), progress: ProgressReporter(quiet: true))
}
