import Foundation
import RecCore
import RecData

enum DataCommand: Command {
    static let name = "data"
    static let summary = "list known datasets, or load one and print its statistics"
    static let usage = """
        Usage: reclab data list
               reclab data stats NAME [--path DIR --format FORMAT] [--data-root DIR]

        FORMAT is one of: movielens-100k, movielens-1m, movielens-latest, recbole, amazon, unisrec.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try Arguments(raw, options: ["--path", "--format", "--data-root"], flags: [])
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
            print("fingerprint:   \(dataset.fingerprint)")
        default:
            throw RecError.usage("unknown action '\(action)'; valid: list, stats")
        }
        return 0
    }
}
