import Foundation
import RecTesting
import Testing

@testable import RecStore

/// `reclab augment`: bulk augmentation with the real SmolLM2 over the tiny dataset's 50 items,
/// killed and resumed, exported, and imported by another spec instead of calling the model.
@Suite(.serialized) struct AugmentCommandTests {
    /// The tiny stage spec cut to its LLM pipeline, one seed, and `max_tokens` generated per item;
    /// with `twin`, a second pipeline builds the same augment stage.
    static func spec(_ folder: String, maxTokens: Int, augment: String? = nil, twin: Bool = false) throws -> String {
        let stage = augment ?? "{ type: llm.item_text, writes: summary, max_tokens: \(maxTokens), prompt: \"Describe {title} ({genres}) in a few words.\" }"
        // One pipeline over the stage, ranking by an item graph of `neighbours` neighbours.
        let pipeline = { (name: String, neighbours: Int) in
            """

              \(name):
                augment:
                  - \(stage)
                encoder: { type: hashing-tfidf }
                encode_fields: [title, genres, summary]
                derive: [{ type: item_graph, neighbours: \(neighbours) }]
                retriever: { type: graph_knn }
            """
        }
        let text =
            """
            name: augment-cli
            data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole }
            evaluation: { metrics: [hr], cutoffs: [10] }
            seeds: [1]
            pipelines:
            """ + pipeline("llm-text-knn", 5) + (twin ? pipeline("llm-text-knn-10", 10) : "")
        let path = folder + "/augment-\(maxTokens)-\(augment == nil ? "model" : "import")\(twin ? "-twin" : "").yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func generateCalls(_ db: String) throws -> Int {
        let store = try ResultStore(path: db, readOnly: true)
        return Int(try store.db.query("SELECT COUNT(*) FROM lm_calls WHERE kind = 'generate'")[0][0].int ?? -1)
    }

    @Test func aKilledBulkAugmentationMakesOnlyTheMissingCallsWhenRunAgain() throws {
        let folder = Fixtures.temporaryDirectory()
        let spec = try Self.spec(folder, maxTokens: 48)
        let db = folder + "/killed.sqlite", out = folder + "/texts.jsonl"
        let process = CLI.start(["augment", spec, "--db", db, "--export", out], quietOutput: true)
        var storedBeforeKill = 0
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline && process.isRunning {
            if FileManager.default.fileExists(atPath: db), let calls = try? Self.generateCalls(db), calls > 0 {
                storedBeforeKill = calls
                break
            }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run was killed, not finished")
        let stored = try Self.generateCalls(db)
        #expect(stored >= storedBeforeKill && stored > 0 && stored < 50, "killed after \(stored) of 50 calls were stored")
        #expect(!FileManager.default.fileExists(atPath: out))

        let again = try CLI.run(["augment", spec, "--db", db, "--export", out])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("\(50 - stored) model calls, \(stored) from the cache"), "only the missing calls reach the model: \(again.stderr)")
        #expect(try Self.generateCalls(db) == 50)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 50 && lines.allSatisfy { $0.contains("\"level\":\"item\"") && $0.contains("\"field\":\"summary\"") })

        let third = try CLI.run(["augment", spec, "--db", db, "--export", folder + "/again.jsonl"])
        #expect(third.stderr.contains("wrote summary for 50 entries (0 new)"), "the texts come from the stage cache: \(third.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/again.jsonl")) == Data(contentsOf: URL(fileURLWithPath: out)))
    }

    @Test func anExportedFileIsImportedInsteadOfCallingTheModel() throws {
        let folder = Fixtures.temporaryDirectory()
        let exported = folder + "/texts.jsonl"
        let export = try CLI.run(["augment", try Self.spec(folder, maxTokens: 4), "--db", folder + "/a.sqlite", "--export", exported])
        #expect(export.status == 0, "\(export.stderr)")

        let importing = try Self.spec(folder, maxTokens: 4, augment: "{ type: llm.item_text, writes: summary, import: texts.jsonl }")
        let db = folder + "/b.sqlite"
        let run = try CLI.run(["run", importing, "--db", db, "--report", folder + "/report.md"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("wrote summary for 50 entries (50 new from texts.jsonl)"), "\(run.stderr)")
        #expect(try Self.generateCalls(db) == 0, "no call reached a model")
        let report = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(report.contains("writes item field summary (imported from texts.jsonl)"), "\(report)")

        // The imported texts are the exported ones: a re-export from the importing database matches.
        let reexport = try CLI.run(["augment", importing, "--db", db, "--export", folder + "/re.jsonl"])
        #expect(reexport.status == 0 && reexport.stderr.contains("(0 new from texts.jsonl)"), "\(reexport.stderr)")
        let texts = { (path: String) in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.components(separatedBy: "\"text\":")[1] } }
        #expect(try texts(folder + "/re.jsonl") == texts(exported))

        // A file that lacks an item, or has a broken line, stops the run with the file and line,
        // before anything is stored.
        var lines = try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n")
        lines.removeFirst()
        try (lines.joined(separator: "\n") + "\n").write(toFile: exported, atomically: true, encoding: .utf8)
        let missing = try CLI.run(["run", importing, "--db", folder + "/c.sqlite", "--no-report"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("has no item text for field 'summary' for 1 of 50 items"), "\(missing.stderr)")
        try (lines.joined(separator: "\n") + "\n{\"level\": \"item\", \"id\": 3}\n").write(toFile: exported, atomically: true, encoding: .utf8)
        let broken = try CLI.run(["run", importing, "--db", folder + "/d.sqlite", "--no-report"])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("texts.jsonl:50: not an augmentation line"), "\(broken.stderr)")
        #expect(broken.stderr.contains("augment-4-import.yaml:"), "located at the import key: \(broken.stderr)")
        let folderSpec = try Self.spec(folder, maxTokens: 5, augment: "{ type: llm.item_text, writes: summary, import: . }")
        let notAFile = try CLI.run(["run", folderSpec, "--db", folder + "/e.sqlite", "--no-report"])
        #expect(notAFile.status == 1 && notAFile.stderr.contains("is a folder, not a file"), "\(notAFile.stderr)")
    }
}

/// What augment stages cost, in the report: recorded as the texts are written, recorded again
/// by `--recount` for texts written before the store recorded them.
@Suite struct AugmentCostTests {
    @Test func theReportAddsUpTheCallsEachStageMadeAndRecountRecordsOldTexts() throws {
        let folder = Fixtures.temporaryDirectory()
        let spec = try AugmentCommandTests.spec(folder, maxTokens: 4, twin: true)
        let db = folder + "/a.sqlite", report = folder + "/report.md"
        let run = try CLI.run(["run", spec, "--db", db, "--report", report])
        #expect(run.status == 0, "\(run.stderr)")
        let store = try ResultStore(path: db)
        let sums = try store.db.query("SELECT COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM lm_calls WHERE kind = 'generate'")[0].map { Int($0.int ?? -1) }
        let costs = try store.augmentCosts(experiment: "augment-cli")
        #expect(costs.count == 1)
        let cost = try #require(costs.first)
        #expect(cost.kind == "llm.item_text" && cost.fields == ["summary"] && cost.pipelines == ["llm-text-knn", "llm-text-knn-10"] && cost.entries == 50)
        #expect([cost.calls, cost.promptTokens, cost.generatedTokens] == sums && cost.calls == 50 && cost.unrecordedStages == 0)
        let text = try String(contentsOfFile: report, encoding: .utf8)
        let promptTokens = String(sums[1]).reversed().enumerated().map { $0 > 0 && $0 % 3 == 0 ? "\($1)," : "\($1)" }.reversed().joined()
        #expect(text.contains("| llm.item_text → summary | llm-text-knn, llm-text-knn-10 | 1 | 50 | 50 | \(promptTokens) |"), "\(text)")

        // A database from before the ledger: the texts are stored, their calls unrecorded.
        try store.db.execute("DELETE FROM augment_stage_calls")
        #expect(try store.augmentCosts(experiment: "augment-cli").first?.unrecordedStages == 1)
        let stale = try CLI.run(["report", "augment-cli", "--db", db, "--stdout"])
        #expect(stale.stdout.contains("1 stage(s) hold texts with no recorded call") && stale.stdout.contains("--recount"), "\(stale.stdout)")
        // A database from before stages were linked to the cells that build them: not counted.
        try store.db.execute("DELETE FROM augment_stage_cells")
        #expect(try store.augmentCosts(experiment: "augment-cli").isEmpty && store.augmentStagesOutsidePlan(experiment: "augment-cli") == 1)
        let unlinked = try CLI.run(["report", "augment-cli", "--db", db, "--stdout"])
        #expect(unlinked.stdout.contains("1 recorded augment stage(s) were built by no cell of the current plan"), "\(unlinked.stdout)")
        let recount = try CLI.run(["augment", spec, "--db", db, "--recount"])
        #expect(recount.status == 0, "\(recount.stderr)")
        #expect(recount.stderr.contains("50/50 asked again") && recount.stderr.contains("0 model calls, 50 from the cache"), "\(recount.stderr)")
        #expect(recount.stderr.contains("wrote summary for 50 entries (0 new)"), "\(recount.stderr)")
        #expect(try store.augmentCosts(experiment: "augment-cli") == costs, "the recount records the same calls, and links both pipelines' cells")
        #expect(try store.augmentStagesOutsidePlan(experiment: "augment-cli") == 0)
        #expect(try AugmentCommandTests.generateCalls(db) == 50)

        let neither = try CLI.run(["augment", spec, "--db", db])
        #expect(neither.status != 0 && neither.stderr.contains("--export OUT.jsonl or --recount"), "\(neither.stderr)")
    }
}

/// LLM-Rec's engagement-guided texts with the real SmolLM2: written once per item from the
/// split's co-engagement graph, read back from the store by a later run.
@Suite struct EngagementAugmentTests {
    @Test func engagementTextsAreWrittenOncePerSplit() throws {
        let folder = Fixtures.temporaryDirectory()
        let spec = try AugmentCommandTests.spec(folder, maxTokens: 4, augment: "{ type: llmrec.text, strategy: engage, writes: summary, max_tokens: 4 }")
        let db = folder + "/e.sqlite"
        let first = try CLI.run(["augment", spec, "--db", db, "--export", folder + "/e.jsonl"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("wrote summary for 50 entries (50 new)"), "\(first.stderr)")
        let lines = try String(contentsOfFile: folder + "/e.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 50 && lines.filter { $0.contains("\"text\":\"\"") }.count < 50)
        let again = try CLI.run(["augment", spec, "--db", db, "--export", folder + "/e2.jsonl"])
        #expect(again.stderr.contains("wrote summary for 50 entries (0 new)"), "\(again.stderr)")
        #expect(try AugmentCommandTests.generateCalls(db) <= 50)
    }
}
