import Foundation
import RecTesting
import Testing

@testable import RecStore

/// Shards whose `openai` backend points at one server: each shard's calls land in its own call
/// cache, `merge` joins them, and a later run of the same cells from the merged file needs no
/// server at all.
@Suite(.serialized) struct SharedServerTests {
    static let spec = Fixtures.directory + "/tiny/tiny-shared-server.yaml"
    static let reply = """
        {"choices":[{"message":{"role":"assistant","content":"1. Item 3\\n2. Item 1\\n3. Item 4"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":40,"completion_tokens":12}}
        """

    @Test func shardCallsMergeAndARunFromTheMergedCacheIsFree() throws {
        let server = try FaultServer([.handler { _ in (200, Self.reply) }])
        let folder = Fixtures.temporaryDirectory()
        let endpoint = ["--set", "pipelines.ranked.ranker.lm.base_url=\(server.baseURL)"]
        for shard in 0..<2 {
            let run = try CLI.run(["run", Self.spec, "--db", folder + "/shard-\(shard).sqlite", "--no-report", "--shard", "\(shard)/2"] + endpoint)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let calls = server.count
        #expect(calls >= 6, "3 ranked users per ranked cell, one cell per shard: \(calls)")
        let keys = try (0..<2).map { shard in
            Set(try ResultStore(path: folder + "/shard-\(shard).sqlite", readOnly: true).db.query("SELECT key FROM lm_calls").compactMap { $0[0].text })
        }
        #expect(keys.allSatisfy { !$0.isEmpty }, "every shard called the server")
        let all = folder + "/all.sqlite"
        #expect(try CLI.run(["merge", "--db", all, folder + "/shard-0.sqlite", folder + "/shard-1.sqlite"]).status == 0)
        let merged = Set(try ResultStore(path: all, readOnly: true).db.query("SELECT key FROM lm_calls").compactMap { $0[0].text })
        #expect(merged == keys[0].union(keys[1]), "the merged cache holds every shard's calls")

        // The same cells under another experiment name, from the merged file, with the server gone.
        server.stop()
        let again = try CLI.run(["run", Self.spec, "--db", all, "--no-report", "--set", "name=tiny-shared-server-again"] + endpoint)
        #expect(again.status == 0, "a call reached for the stopped server: \(again.stderr)")
        #expect(server.count == calls)
        func rows(_ name: String) throws -> [Substring] {
            try CLI.run(["report", name, "--db", all, "--format", "csv", "--stdout"]).stdout.split(separator: "\n").dropFirst().map { $0.drop { $0 != "," } }.sorted()
        }
        let first = try rows("tiny-shared-server"), second = try rows("tiny-shared-server-again")
        #expect(!first.isEmpty && first == second)
    }
}
