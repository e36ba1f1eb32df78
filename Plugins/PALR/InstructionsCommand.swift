import Foundation
import RecCore

/// `reclab palr export-instructions`: PALR's two instruction sets as JSONL.
public enum PALRCommand: PluginCommand {
    public static let name = "palr"
    public static let summary = "PALR tools: palr export-instructions (Recommend / Recommend_Retrieval JSONL)"
    public static let usage = """
        Usage: reclab palr export-instructions SPEC [--out DIR] [--targets N] [--candidates N]
                                               [--per-user N] [--history N] [--seed S]
                                               [--set KEY=VALUE]... [--data-root DIR]

        Writes PALR's two instruction sets from the training split of SPEC's data section (the
        same split `reclab run SPEC` trains on; validation and test items never appear):
          DIR/recommend.jsonl            history -> the next N items (PALRv1)
          DIR/recommend_retrieval.jsonl  history + candidates -> the next N items (with
                                         recommend.jsonl: PALRv2)
        One JSON object per line with "instruction", "input" and "output", the layout of
        Alpaca-style fine-tuning sets, so a large model can be tuned elsewhere and served
        through the openai backend.

        Options:
          --out DIR          output folder (default: instructions/<experiment name>)
          --targets N        next items per example (default 3)
          --candidates N     candidates per Recommend_Retrieval example, targets included (default 20);
                             the negatives share a genre with a target or were co-watched with one
          --per-user N       examples per user, each N targets earlier (default 1)
          --history N        most recent history items listed (default 20)
          --seed S           seed of the negative sampling (default 2020)

        """

    public static func run(_ raw: CommandArguments.Raw, context: CommandContext) throws -> Int32 {
        let args = try CommandArguments(
            raw, options: ["--out", "--targets", "--candidates", "--per-user", "--history", "--seed", "--set", "--data-root"], flags: [])
        guard args.positionals.first == "export-instructions" else {
            throw RecError.usage("expected the action export-instructions")
        }
        guard args.positionals.count == 2 else { throw RecError.usage("export-instructions needs one SPEC file") }
        let file = args.positionals[1]
        guard FileManager.default.fileExists(atPath: file) else { throw RecError(.spec, "spec file '\(file)' does not exist") }
        var builder = PALRInstructions()
        builder.targets = try args.intPositive("--targets", default: 3)
        builder.candidates = try args.intPositive("--candidates", default: 20)
        builder.perUser = try args.intPositive("--per-user", default: 1)
        builder.prompts.historyLength = try args.intPositive("--history", default: 20)
        builder.seed = try args.seed("--seed", default: 2020)
        guard builder.targets >= 1, builder.candidates > builder.targets, builder.perUser >= 1, builder.prompts.historyLength >= 1 else {
            throw RecError.usage("--targets, --per-user and --history must be at least 1, and --candidates more than --targets")
        }
        let (name, split) = try context.loadSplit(file, args.values("--set"), args.value("--data-root"))
        let histories = split.trainHistory, items = split.dataset.itemText
        let out = args.value("--out") ?? "instructions/\(name)"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for (name, examples) in [
            ("recommend", builder.recommend(histories: histories, items: items)),
            ("recommend_retrieval", builder.retrieval(histories: histories, items: items)),
        ] {
            var text = ""
            for example in examples { text += try canonicalJSON(example, keys: .asDeclared) + "\n" }
            let path = (out as NSString).appendingPathComponent(name + ".jsonl")
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw RecError(.io, "cannot write '\(path)': \(error.localizedDescription)")
            }
            print("\(path): \(examples.count) examples")
        }
        return 0
    }
}
