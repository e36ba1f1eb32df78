import Foundation
import RecTesting
import Testing

@testable import RecStore

/// Runs the built `reclab` as a user would.
struct CLI {
    static let binary: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("reclab").path,
            Fixtures.packageRoot + "/.build/debug/reclab",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    static func run(
        _ arguments: [String], in directory: String = Fixtures.packageRoot, input: String? = nil, environment: [String: String] = [:]
    ) throws -> Output {
        let process = start(arguments, in: directory, input: input, environment: environment)
        let out = process.standardOutput as! Pipe, err = process.standardError as! Pipe
        // Read before waiting, so a full pipe cannot stall the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func start(
        _ arguments: [String], in directory: String = Fixtures.packageRoot, quietOutput: Bool = false,
        input: String? = nil, environment: [String: String] = [:]
    ) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let stdin = input.map { _ in Pipe() }
        if let stdin { process.standardInput = stdin }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        if quietOutput {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        } else {
            process.standardOutput = Pipe()
            process.standardError = Pipe()
        }
        try! process.run()
        if let stdin, let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        return process
    }
}

/// Metric rows of experiment `name`, keyed by cell key, for comparing databases.
func metricRows(_ db: String, _ name: String = "tiny") throws -> [String: [String]] {
    let store = try ResultStore(path: db, readOnly: true)
    var rows: [String: [String]] = [:]
    for cell in try store.cells(of: try store.experiment(named: name)) where cell.status == .done {
        rows[cell.key] = try store.metrics(cell: cell.id).map { "\($0.name)@\($0.k)=\($0.value)" }
    }
    return rows
}

let tinySpec = Fixtures.directory + "/tiny/tiny.yaml"

@Suite(.serialized) struct CLITests {
    @Test(arguments: ["run", "validate", "plan", "list", "report", "compare", "data", "augment", "merge", "submit", "status", "bench", "encode", "lm", "cache", "palr"])
    func everyCommandHasHelp(_ command: String) throws {
        let output = try CLI.run([command, "--help"])
        #expect(output.status == 0)
        #expect(output.stdout.hasPrefix("Usage: reclab \(command)"))
    }

    @Test func usageErrorsExit64() throws {
        #expect(try CLI.run([]).status == 64)
        let unknown = try CLI.run(["rnu"])
        #expect(unknown.status == 64 && unknown.stderr.contains("did you mean 'run'?"))
        let option = try CLI.run(["run", tinySpec, "--shrad", "0/2"])
        #expect(option.status == 64 && option.stderr.contains("did you mean '--shard'?"))
        #expect(try CLI.run(["run", tinySpec, "--shard", "2/2"]).status == 64)
        #expect(try CLI.run(["validate"]).status == 64)
    }

    @Test func badSpecExits1WithLocation() throws {
        let output = try CLI.run(["validate", Fixtures.directory + "/bad/key-unknown-plugin.yaml"])
        #expect(output.status == 1)
        #expect(output.stderr.contains("key-unknown-plugin.yaml:9:38: pipelines.knn.retriever.neighbours: unknown key 'neighbours'; did you mean 'neighbors'?"))
        let good = try CLI.run(["validate", tinySpec])
        #expect(good.status == 0 && good.stdout.contains("12 cell(s)"))
    }

    @Test func listShowsPluginsWithDefaults() throws {
        let output = try CLI.run(["list"])
        #expect(output.status == 0)
        #expect(output.stdout.contains("retriever ease:"))
        #expect(output.stdout.contains("      l2: 250"))
        #expect(output.stdout.contains("ndcg@K"))
    }

    /// The pointwise path end to end: features checked before the run, scorers trained and
    /// scored, AUC/GAUC/LogLoss stored with corrected tests and intervals in the report, and
    /// the same split exported for peers.
    @Test func aCTRSpecRunsReportsAndExports() throws {
        let folder = Fixtures.temporaryDirectory()
        let spec = Fixtures.directory + "/tiny/tiny-ctr.yaml"
        let db = folder + "/ctr.sqlite", report = folder + "/tiny-ctr.md"
        let run = try CLI.run(["run", spec, "--db", db, "--report", report])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("[6/6]") && run.stderr.contains("auc = "), "\(run.stderr)")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("| pipeline | auc | gauc | logloss |"))
        #expect(text.contains("history only"))
        #expect(text.contains("adjusted by Holm's procedure"))
        #expect(text.contains("## Confidence intervals"))
        let mistyped = try CLI.run(["run", spec, "--db", db, "--set", "pipelines.fm.scorer.fields=[user_id, genre]"])
        #expect(mistyped.status == 1)
        #expect(mistyped.stderr.contains("pipelines.fm.scorer.fields: field 'genre' is not a feature of this dataset"), "\(mistyped.stderr)")
        let export = try CLI.run(["data", "export", spec, "--out", folder + "/export/tiny", "--seed", "2", "--behaviour", "3"])
        #expect(export.status == 0, "\(export.stderr)")
        let test = try String(contentsOfFile: folder + "/export/tiny/tiny.test.inter", encoding: .utf8)
        #expect(test.hasPrefix("user_id:token\titem_id:token\trating:float\tlabel:float\titem_id_list:token_seq\n"))
        // Each sample lists at most three items, all rated by its user before it.
        let rows = test.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(rows.allSatisfy { $0.count == 5 && $0[4].split(separator: " ").count <= 3 })
        #expect(rows.contains { $0[4].split(separator: " ").count == 3 })
        let item = try String(contentsOfFile: folder + "/export/tiny/tiny.item", encoding: .utf8)
        #expect(item.hasPrefix("item_id:token\trelease_year:token\tclass:token_seq\tclass_first:token\n"), "\(item.prefix(120))")
        #expect(FileManager.default.fileExists(atPath: folder + "/export/tiny/tiny.user"))
        #expect(FileManager.default.fileExists(atPath: folder + "/export/tiny/train.tsv"))
    }

    /// The stage graph end to end with the real SmolLM2: the model writes a text for every
    /// item once, and every later cell, sweep point and run reads the stored texts.
    @Test func aStagedSpecWritesItemTextOnceAndReusesIt() throws {
        let folder = Fixtures.temporaryDirectory()
        let spec = Fixtures.directory + "/tiny/tiny-stages.yaml"
        let db = folder + "/stages.sqlite", report = folder + "/tiny-stages.md"
        let run = try CLI.run(["run", spec, "--db", db, "--report", report])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("llm.item_text wrote summary for 50 entries (50 new)"), "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "wrote summary for 50 entries (0 new)").count == 4, "the other three cells of the pipeline reuse the texts")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("writes item field summary; item_graph(min_similarity=0, neighbours=5) derives the item graph"), "\(text)")
        #expect(text.contains("| llm-text-knn.derive.0.neighbours=10 | llm-text-knn |"))
        let again = try CLI.run(["run", spec, "--db", db, "--no-report", "--set", "name=tiny-stages-again", "--set", "pipelines.llm-text-knn.derive.0.neighbours=7"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("wrote summary for 50 entries (0 new)") && !again.stderr.contains("(50 new)"), "a new experiment over the same items writes nothing again")
        #expect(again.stderr.contains("derived the item graph"), "the changed derive stage runs")
    }

    @Test func runWritesAReportThatReRendersByteForByte() throws {
        let folder = Fixtures.temporaryDirectory()
        let db = folder + "/r.sqlite", report = folder + "/tiny.md"
        let run = try CLI.run(["run", tinySpec, "--db", db, "--report", report])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("[12/12]"))
        #expect(run.stderr.contains("bprmf epoch 5/5"))
        let first = try String(contentsOfFile: report, encoding: .utf8)
        #expect(first.contains("## Significance against `popularity`"))
        #expect(first.contains("## Ablation"))
        // Rendered again under the same file name elsewhere: the same Markdown and figures.
        let again = try CLI.run(["report", "tiny", "--db", db, "--out", folder + "/again/tiny.md"])
        #expect(again.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/again/tiny.md")) == Data(first.utf8))
        let figures = try FileManager.default.contentsOfDirectory(atPath: folder + "/tiny-figures").sorted()
        #expect(figures.contains("hr@10.svg") && figures.contains("sweep-hr@10.svg"), "\(figures)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/again/tiny-figures").sorted() == figures)
        for figure in figures {
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/tiny-figures/" + figure)) == Data(contentsOf: URL(fileURLWithPath: folder + "/again/tiny-figures/" + figure)))
        }
        #expect(first.contains("](tiny-figures/hr@10.svg)"))
        // A second run skips every cell and leaves the same rows.
        let rows = try metricRows(db)
        let second = try CLI.run(["run", tinySpec, "--db", db, "--report", report])
        #expect(second.stderr.contains("ran 0, skipped 12"))
        #expect(try metricRows(db) == rows)
    }

    @Test func killedRunResumesToTheSameRows() throws {
        let folder = Fixtures.temporaryDirectory()
        // Slow cells (more BPR epochs) so the kill lands mid-run.
        let slow = ["--set", "pipelines.bprmf.retriever.epochs=300", "--no-report", "--quiet"]
        #expect(try CLI.run(["run", tinySpec, "--db", folder + "/whole.sqlite"] + slow).status == 0)
        let whole = try metricRows(folder + "/whole.sqlite")
        #expect(whole.count == 12)

        let db = folder + "/killed.sqlite"
        let process = CLI.start(["run", tinySpec, "--db", db] + slow, quietOutput: true)
        var doneBeforeKill = 0
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: db), let rows = try? metricRows(db), !rows.isEmpty {
                doneBeforeKill = rows.count
                break
            }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(doneBeforeKill >= 1 && doneBeforeKill < 12, "killed after \(doneBeforeKill) cells")

        let resumed = try CLI.run(["run", tinySpec, "--db", db] + slow)
        #expect(resumed.status == 0)
        #expect(try metricRows(db) == whole)
        let store = try ResultStore(path: db, readOnly: true)
        let count = try store.db.query("SELECT COUNT(*) FROM metrics")[0][0].int
        let wholeCount = try ResultStore(path: folder + "/whole.sqlite", readOnly: true).db.query("SELECT COUNT(*) FROM metrics")[0][0].int
        #expect(count == wholeCount, "no duplicate metric rows")
    }

    @Test func twoProcessesOnOneFileAndShardsMerge() throws {
        let folder = Fixtures.temporaryDirectory()
        let options = ["--no-report", "--quiet"]
        #expect(try CLI.run(["run", tinySpec, "--db", folder + "/one.sqlite"] + options).status == 0)
        let reference = try metricRows(folder + "/one.sqlite")

        let shared = folder + "/shared.sqlite"
        let a = CLI.start(["run", tinySpec, "--db", shared] + options)
        let b = CLI.start(["run", tinySpec, "--db", shared] + options)
        let errors = [a, b].map { String(decoding: ($0.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        a.waitUntilExit()
        b.waitUntilExit()
        #expect(a.terminationStatus == 0 && b.terminationStatus == 0, "\(errors)")
        #expect(try metricRows(shared) == reference)
        #expect(try ResultStore(path: shared, readOnly: true).db.query("PRAGMA integrity_check")[0][0].text == "ok")

        for shard in 0..<3 {
            #expect(try CLI.run(["run", tinySpec, "--db", folder + "/s\(shard).sqlite", "--shard", "\(shard)/3"] + options).status == 0)
        }
        let merge = try CLI.run(["merge", "--db", folder + "/merged.sqlite"] + (0..<3).map { folder + "/s\($0).sqlite" })
        #expect(merge.status == 0)
        #expect(try metricRows(folder + "/merged.sqlite") == reference)
    }

    /// A cell that another live process runs is waited for, not run a second time beside it,
    /// and taken over once that process is gone.
    @Test func aCellAnotherProcessRunsIsWaitedFor() throws {
        let db = Fixtures.temporaryDirectory() + "/w.sqlite"
        #expect(try CLI.run(["run", tinySpec, "--db", db, "--no-report", "--quiet", "--pipelines", "popularity"]).status == 0)
        let owner = Process()
        owner.executableURL = URL(fileURLWithPath: "/bin/sleep")
        owner.arguments = ["6"]
        try owner.run()
        let started = Date()
        let store = try ResultStore(path: db)
        let key = try #require(store.db.query("SELECT cell_key FROM cells WHERE pipeline = 'bprmf' AND status = 'pending' ORDER BY id LIMIT 1").first?[0].text)
        try store.db.query("UPDATE cells SET status = 'running', owner_pid = ? WHERE cell_key = ?", [.int(Int64(owner.processIdentifier)), .text(key)])
        let run = try CLI.run(["run", tinySpec, "--db", db, "--no-report"])
        owner.waitUntilExit()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("waiting for process \(owner.processIdentifier), which runs it"), "\(run.stderr)")
        let row = try #require(store.db.query("SELECT status, started_at FROM cells WHERE cell_key = ?", [.text(key)]).first)
        let taken = try #require(row[1].text.flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(row[0].text == "done")
        // Started once the owner had ended, 6 s after it began (timestamps are whole seconds).
        #expect(taken.timeIntervalSince(started) >= 5, "started \(taken.timeIntervalSince(started)) s after the owner")
    }

    @Test func trainedModelsComeFromTheStageCache() throws {
        let db = Fixtures.temporaryDirectory() + "/r.sqlite"
        let first = try CLI.run(["run", tinySpec, "--db", db, "--no-report", "--set", "sweep=null"])
        #expect(first.status == 0)
        #expect(!first.stderr.contains("restored from the stage cache"))
        func hr5(_ rows: [String: [String]]) -> [String] { rows.values.compactMap { $0.first { $0.hasPrefix("hr@5=") } }.sorted() }
        let before = hr5(try metricRows(db))
        // Other cutoffs make new cells, but BPR-MF's trained factors are the same artifact.
        let second = try CLI.run(["run", tinySpec, "--db", db, "--no-report", "--set", "sweep=null", "--set", "evaluation.cutoffs=[5, 20]"])
        #expect(second.status == 0)
        #expect(second.stderr.components(separatedBy: "bprmf: trained model restored from the stage cache").count - 1 == 2)
        #expect(!second.stderr.contains("bprmf epoch"))
        // The restored models score exactly as the trained ones did.
        let after = hr5(try metricRows(db))
        #expect(before.count == 8 && after == before)
        // Every cell's cost is stored, and a restored model keeps the curve of its training.
        let store = try ResultStore(path: db, readOnly: true)
        for cell in try store.cells(of: try store.experiment(named: "tiny")) where cell.status == .done {
            let costs = try store.costs(cell: cell.id)
            #expect(costs["train_seconds"] != nil && costs["llm_calls"] == 0 && (costs["peak_rss_bytes"] ?? 0) > 1_000_000, "\(costs)")
            let loss = try store.curves(cell: cell.id)["loss"]
            #expect(cell.pipeline == "bprmf" ? loss?.map(\.step) == [1, 2, 3, 4, 5] : loss == nil)
        }
    }

    @Test func planListsEveryCellOnce() throws {
        let all = try CLI.run(["plan", tinySpec])
        #expect(all.status == 0)
        let lines = all.stdout.split(separator: "\n")
        #expect(lines.count == 12)
        let shard = try CLI.run(["plan", tinySpec, "--shard", "1/4"])
        #expect(shard.stdout.split(separator: "\n").count == 3)
        // Named pipelines in the order named, with their plan indexes; a shard of them.
        let chosen = try CLI.run(["plan", tinySpec, "--pipelines", "bprmf,popularity"])
        let rows = chosen.stdout.split(separator: "\n").map { $0.split(separator: "\t") }
        #expect(rows.map { String($0[2]) } == ["bprmf", "bprmf", "popularity", "popularity"])
        let indexes = Dictionary(uniqueKeysWithValues: lines.map { ($0.split(separator: "\t")[1], $0.split(separator: "\t")[0]) })
        #expect(rows.allSatisfy { indexes[$0[1]] == $0[0] })
        let both = try CLI.run(["plan", tinySpec, "--pipelines", "bprmf", "--shard", "0/2"])
        #expect(both.stdout.split(separator: "\n").count == 1)
        let unknown = try CLI.run(["run", tinySpec, "--pipelines", "bpr"])
        #expect(unknown.status == 64 && unknown.stderr.contains("no pipeline 'bpr'"))
    }

    @Test func dataStatsOfTheEmbeddedDataset() throws {
        let output = try CLI.run(["data", "stats", "ml-latest-small"])
        #expect(output.status == 0)
        #expect(output.stdout.contains("interactions:  100836"))
    }
}
