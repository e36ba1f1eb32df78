import Foundation
import RecCore
import RecData
import RecRunner
import RecSpec

enum DataCommand: Command {
    static let name = "data"
    static let summary = "list known datasets, or load one and print its statistics"
    static let usage = """
        Usage: reclab data list
               reclab data stats NAME [--path DIR --format FORMAT] [--data-root DIR]
               reclab data export SPEC --out DIR [--seed N] [--behaviour L] [--set KEY=VALUE ...] [--data-root DIR]

        export writes the split a spec's cells see (for run seed N, default the spec's first)
        as RecBole atomic files (NAME.train.inter, NAME.valid.inter, NAME.test.inter with the
        label, NAME.user, NAME.item) and as train.tsv / test.tsv (user, item, rating) for
        scikit-surprise, so that a peer is measured on exactly the same data. --behaviour L adds
        each interaction's last L earlier items as item_id_list (RecBole's sequential CTR models,
        such as DIN, read it).

        FORMAT is one of: movielens-100k, movielens-1m, movielens-latest, recbole, amazon, unisrec.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--path", "--format", "--data-root", "--out", "--seed", "--set", "--behaviour"], flags: [])
        guard let action = args.positionals.first else { throw RecError.usage("missing action: list or stats") }
        switch action {
        case "list":
            for entry in DataCatalog.entries { print("\(entry.name)\t\(entry.format)\t\(entry.summary)") }
        case "stats":
            guard args.positionals.count == 2 else { throw RecError.usage("data stats needs one dataset NAME") }
            let catalog = DataCatalog(root: args.value("--data-root"))
            let dataset = try catalog.load(dataset: args.positionals[1], path: args.value("--path"), format: args.value("--format"))
            let stats = dataset.statistics
            let perUser = Double(stats.interactions) / Double(max(1, stats.users))
            print("dataset:       \(stats.name)")
            print("users:         \(stats.users)")
            print("items:         \(stats.items)")
            print("interactions:  \(stats.interactions)")
            print(String(format: "density:       %.4f%%", stats.density * 100))
            print(String(format: "per user:      %.1f", perUser))
            print("with title:    \(stats.itemsWithTitle)")
            print("ratings:       \(stats.hasRatings ? "explicit" : "implicit")")
            print("order:         \(stats.hasTimestamps ? "timestamps" : "sequence positions")")
            print("repeated:      \(dataset.withoutDuplicates().dropped) (user, item) interactions (a run keeps the latest of each)")
            for (label, table) in [("user fields:  ", dataset.userFeatures), ("item fields:  ", dataset.itemFeatures)] where !table.isEmpty {
                print(label + " " + table.fields.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", "))
            }
            print("fingerprint:   \(dataset.fingerprint)")
        case "export":
            guard args.positionals.count == 2 else { throw RecError.usage("data export needs one SPEC file") }
            guard let out = args.value("--out") else { throw RecError.usage("data export needs --out DIR") }
            let loaded = try SpecLoader.load(path: args.positionals[1], overrides: args.values("--set"))
            let spec = loaded.base
            let seed = args.value("--seed") == nil ? spec.seeds[0] : try args.seed("--seed")
            let stage = DataStage(catalog: DataCatalog(root: args.value("--data-root")))
            let directory = URL(fileURLWithPath: loaded.file).deletingLastPathComponent().path
            let prepared = try stage.prepare(spec.data, relativeTo: directory, runSeed: seed)
            let behaviour = args.value("--behaviour") == nil ? 0 : try args.intPositive("--behaviour", default: 10)
            try SplitExport.write(prepared.split, name: spec.data.dataset, to: out, behaviour: behaviour)
            print(
                "wrote \(out): train \(prepared.split.train.count), validation \(prepared.split.validation.count), test \(prepared.split.test.count) interactions (split seed \(spec.data.split.seed(forRun: seed)))"
            )
        default:
            throw RecError.usage("unknown action '\(action)'; valid: list, stats, export")
        }
        return 0
    }
}
