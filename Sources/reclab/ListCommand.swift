import AllPlugins
import Foundation
import RecCore
import RecData
import RecEval

enum ListCommand: Command {
    static let name = "list"
    static let summary = "list plugins with their configuration keys and defaults, metrics, datasets"
    static let usage = """
        Usage: reclab list

        Prints every registered plugin (role, kind, summary, configuration keys with defaults),
        every metric, and every known dataset name.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        _ = try CommandArguments(raw, options: [], flags: []).positionals(0, "")
        let registry = try makeRegistry()
        print("Plugins:")
        for entry in registry.entries.sorted(by: { ($0.role, $0.kind) < ($1.role, $1.kind) }) {
            print("  \(entry.role) \(entry.kind): \(entry.summary)")
            let object = (try? JSONSerialization.jsonObject(with: Data(entry.defaults.utf8)) as? [String: Any]) ?? [:]
            for key in object.keys.sorted() {
                print("      \(key): \(flowYAML(object[key]!))")
            }
        }
        print("\nMetrics (evaluation.metrics; @K from evaluation.cutoffs):")
        for metric in MetricCatalog.all {
            print("  \(metric.kind)\(metric.usesCutoff ? "@K" : ""): \(metric.summary)\(metric.higherIsBetter ? "" : " (lower is better)")")
        }
        print("\nDatasets (data.dataset):")
        for entry in DataCatalog.entries { print("  \(entry.name): \(entry.summary)") }
        return 0
    }
}
