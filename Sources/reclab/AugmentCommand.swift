import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecStore

enum AugmentCommand: Command {
    static let name = "augment"
    static let summary = "run a spec's augment stages (LLM text per item or user) and export the texts as JSONL"
    static let usage = """
        Usage: reclab augment FILE --export OUT.jsonl [options]
               reclab augment FILE --recount [options]

        Runs the augment stages of every pipeline in FILE for one run seed, before anything
        trains, and each ranking-path `augmenter:` for the users its evaluation ranks: texts
        already in the database are restored, the rest are written through each augmenter's
        batched path and stored as they finish (a killed run resumes with no finished call
        repeated). Then every text is written to OUT.jsonl, one line per item or user:

          {"field":"summary","id":"1","level":"item","pipeline":"p","stage":"llm.item_text","text":"..."}

        `id` is the dataset's own user or item id; an augment stage's lines carry its `writes:`
        field, an augmenter's the field `knowledge`. An augment stage or an augmenter with
        `import: OUT.jsonl` takes its texts from such a file instead of calling the model, so
        that knowledge written by a larger model elsewhere can be plugged into any spec.

        The database records which calls each augment stage made, and the report's cost
        section adds up the tokens and wall time of the stages the spec's current cells built.
        Texts written before the database recorded calls per stage, or linked stages to the
        cells that build them, lack those records: --recount asks for every stored text again,
        answered by the call cache (a call it does not hold is made), for every seed of the
        spec or the one --seed names, records the calls and links, and keeps the stored texts.

        Options:
          --export PATH        where to write the texts (JSON Lines); required without --recount
          --recount            record the calls of texts already stored (see above)
          --db PATH            results database (default: reclab.sqlite)
          --seed N             run seed whose split the user-level stages read (default: the spec's first)
          --set KEY=VALUE      override a spec value (repeatable)
          --pipelines A,B      only these pipelines' stages
          --data-root DIR      where datasets live (default: $RECLAB_DATA or ../shared/data)
          --max-cells N        allow plans of more than 10000 cells
          --quiet              no progress output

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(
            raw, options: ["--export", "--db", "--seed", "--set", "--pipelines", "--data-root", "--max-cells"], flags: ["--quiet", "--recount"])
        let file = try args.positionals(1, "the spec FILE")[0]
        let recount = args.has("--recount"), out = args.value("--export")
        guard out != nil || recount else { throw RecError.usage("augment needs --export OUT.jsonl or --recount") }
        let plan = try loadPlan(file, args)
        let seed = args.value("--seed") == nil ? nil : try args.seed("--seed")
        if let seed, !plan.info.seeds.contains(seed) {
            throw RecError.usage("--seed \(seed) is not one of the spec's seeds (\(plan.info.seeds.map(String.init).joined(separator: ", ")))")
        }
        if recount, out != nil, seed == nil, plan.info.seeds.count > 1 {
            throw RecError.usage("--recount runs every seed; name the one whose texts --export writes with --seed")
        }
        guard plan.cells.contains(where: \.pipeline.writesText) else {
            throw RecError.usage("'\(plan.info.name)' has no pipeline with augment: stages or an augmenter; nothing to export")
        }
        let store = try ResultStore(path: args.value("--db") ?? "reclab.sqlite")
        let progress = ProgressReporter(quiet: args.has("--quiet"))
        let runner = Runner(
            registry: try makeRegistry(), store: store, data: DataStage(catalog: DataCatalog(root: args.value("--data-root"))), progress: progress)
        let selected = try selectCells(plan, pipelines: args.value("--pipelines"), shard: nil).map(\.cell)
        var narrowed = plan
        narrowed.cells = selected
        if recount {
            for each in seed.map({ [$0] }) ?? plan.info.seeds {
                _ = try runner.augmentations(narrowed, seed: each, recount: true)
            }
        }
        guard let out else { return 0 }
        let lines = try runner.augmentations(narrowed, seed: seed)
        var text = ""
        for line in lines { text += try canonicalJSON(line, keys: .asDeclared) + "\n" }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            throw RecError(.io, "cannot write '\(out)': \(describeSystemError(error))")
        }
        progress.line("wrote \(lines.count) texts to \(out)")
        return 0
    }
}
