import Foundation
import RecCore
import RecRunner
import RecStore

enum CacheCommand: Command {
    static let name = "cache"
    static let summary = "the language-model call cache: cache stats, export, import"
    static let usage = """
        Usage: reclab cache stats [--db FILE]
               reclab cache export OUT.jsonl[.xz] [--db FILE]
               reclab cache import IN.jsonl[.xz] [--db FILE]

        stats   how many language-model calls were answered from the cache (hits) and how many
                reached a model (misses), and the stored calls with their prompt and completion
                tokens per backend and model.
        export  every stored call, one JSON object per line, xz-compressed when the name ends
                in .xz; the file is replaced only once it is complete, so an export can be
                taken while a run is writing.
        import  the calls of such a file into the database, in one transaction: every line is
                checked first (its key must be the SHA-256 of its request), and a call already
                stored keeps its row. A run then finds those calls answered, so a long
                generation exported on one machine resumes on another where it stopped.

        FILE defaults to reclab.sqlite.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--db"], flags: [])
        let database = args.value("--db") ?? "reclab.sqlite"
        switch args.positionals.first {
        case "stats" where args.positionals.count == 1:
            let stats = try ResultStore(path: database, readOnly: true).lmCacheStats()
            print("hits: \(stats.hits)\nmisses: \(stats.misses)\nstored calls: \(stats.calls)")
            print("prompt tokens: \(stats.promptTokens)\ncompletion tokens: \(stats.completionTokens)")
            for row in stats.byModel {
                print("  \(row.backend) \(row.model): \(row.calls) calls, \(row.promptTokens) prompt tokens, \(row.completionTokens) completion tokens")
            }
        case "export" where args.positionals.count == 2:
            let count = try CallCacheFile.export(from: try ResultStore(path: database, readOnly: true), to: args.positionals[1])
            print("exported \(count) calls from \(database) to \(args.positionals[1])")
        case "import" where args.positionals.count == 2:
            let calls = try CallCacheFile.read(args.positionals[1])
            let (new, differing) = try ResultStore(path: database).importLMCalls(calls)
            print("imported \(new) of \(calls.count) calls into \(database) (\(calls.count - new) already stored)")
            if differing > 0 {
                print("note: \(differing) of the stored calls have another response than the file's; the stored ones were kept")
            }
        default:
            throw RecError.usage("expected 'cache stats', 'cache export FILE' or 'cache import FILE'")
        }
        return 0
    }
}
