import Foundation
import RecCore
import RecStore

enum CacheCommand: Command {
    static let name = "cache"
    static let summary = "the language-model call cache: cache stats"
    static let usage = """
        Usage: reclab cache stats [--db FILE]

        Prints how many language-model calls were answered from the cache (hits) and how many
        reached a model (misses), and the stored calls with their prompt and completion tokens
        per backend and model. FILE defaults to reclab.sqlite.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--db"], flags: [])
        guard args.positionals == ["stats"] else { throw RecError.usage("expected 'cache stats'") }
        let stats = try ResultStore(path: args.value("--db") ?? "reclab.sqlite", readOnly: true).lmCacheStats()
        print("hits: \(stats.hits)\nmisses: \(stats.misses)\nstored calls: \(stats.calls)")
        print("prompt tokens: \(stats.promptTokens)\ncompletion tokens: \(stats.completionTokens)")
        for row in stats.byModel {
            print("  \(row.backend) \(row.model): \(row.calls) calls, \(row.promptTokens) prompt tokens, \(row.completionTokens) completion tokens")
        }
        return 0
    }
}
