import Foundation
import RecCore
import RecRunner

/// What a cluster submission runs, independent of the scheduler: an optional job that builds
/// the stages shared by cells (LLM texts, vectors, derived artifacts) into `stages.sqlite`, `jobs`
/// shard tasks that each start from a copy of those stages and run their shard into their own
/// database, and a merge job that joins the shards and renders the report, all under `results`.
///
/// Shared stages are built once before the array, not grouped with their cells: a spec's
/// expensive stage (one set of LLM knowledge) is typically shared by most of its cells, so
/// grouping by it would put most of the plan into one task.
struct ClusterSubmission {
    /// The `reclab` executable the jobs run (this one, by absolute path).
    var executable: String
    /// The spec file, by absolute path.
    var spec: String
    var experiment: String
    var jobs: Int
    /// The results folder, by absolute path.
    var results: String
    /// The working directory of every job (where the submission was made).
    var workingDirectory: String
    /// `--set` overrides and `--data-root`, passed to every `reclab run`.
    var runArguments: [String]
    /// Whether any selected cell has stages before training.
    var hasStages: Bool

    var stagesDB: String { results + "/stages.sqlite" }
    var mergedDB: String { results + "/merged.sqlite" }
    var report: String { results + "/\(experiment).md" }
    func shardDB(_ index: String) -> String { results + "/shard-\(index).sqlite" }

    /// The commands of the stages job.
    var stagesCommands: [String] {
        [shell([executable, "run", spec, "--stages-only", "--db", stagesDB] + runArguments)]
    }

    /// The commands of one shard task, whose index the shell variable `indexVariable` holds. A
    /// task started again (requeued, preempted, restarted) skips the cells it finished. With
    /// `marker`, a finished task then creates that file (`{i}` stands for its index).
    func shardCommands(indexVariable: String, marker: String? = nil) -> [String] {
        let index = "${\(indexVariable)}"
        let db = "\"\(results)/shard-\(index).sqlite\""
        var lines: [String] = []
        if hasStages { lines.append("\(shell([executable, "merge", "--db"])) \(db) \(shell([stagesDB]))") }
        lines.append(
            (marker == nil ? "exec " : "") + "\(shell([executable, "run", spec])) --shard \"\(index)/\(jobs)\" --db \(db) --no-report"
                + (runArguments.isEmpty ? "" : " " + shell(runArguments)))
        if let marker { lines.append("touch \"\(marker.replacingOccurrences(of: "{i}", with: index))\"") }
        return lines
    }

    /// The commands of the merge job: every shard into `merged.sqlite`, then the report.
    var mergeCommands: [String] {
        [
            "\(shell([executable, "merge", "--db", mergedDB])) " + (0..<jobs).map { shell([shardDB("\($0)")]) }.joined(separator: " "),
            shell([executable, "report", experiment, "--db", mergedDB, "--out", report]),
        ]
    }

    /// What `reclab status` reads back.
    struct Record: Codable {
        var scheduler: String
        var experiment: String
        var spec: String
        var jobs: Int
        var ids: [String: String]
    }

    func writeRecord(scheduler: String, jobIDs: [String: String]) throws {
        let record = Record(scheduler: scheduler, experiment: experiment, spec: spec, jobs: jobs, ids: jobIDs)
        try write(try canonicalJSON(record, pretty: true) + "\n", to: results + "/submission.json")
    }

    func write(_ text: String, to path: String, executable: Bool = false) throws {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
        } catch {
            throw RecError(.io, "cannot write '\(path)': \(describeSystemError(error))")
        }
    }
}

/// Single-quotes each word for a POSIX shell, leaving plain words as they are.
func shell(_ words: [String]) -> String {
    words.map { word in
        let plain = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) } && word.allSatisfy(\.isASCII)
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}

/// `path` made absolute against the working directory.
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path).standardized.path
}

/// This process's executable, by absolute path.
func currentExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? absolutePath(CommandLine.arguments[0])
}
