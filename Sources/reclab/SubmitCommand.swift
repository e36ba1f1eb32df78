import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecStore

enum SubmitCommand: Command {
    static let name = "submit"
    static let summary = "run a spec on a cluster: a Slurm job array or a Kubernetes Indexed Job, then merge and report"
    static let usage = """
        Usage: reclab submit slurm FILE --jobs N [options]
               reclab submit k8s FILE --jobs N --image IMAGE [options]

        Splits the plan of FILE into N shards (`reclab run --shard i/N`: cells i, i+N, ...), one
        task each, under a results folder (default: results/<experiment>):

          stages.sqlite    the stages cells share (LLM texts, vectors, derived artifacts), built
                           once by a first job when the plan has any (`run --stages-only`);
                           every task starts from a copy of them
          shard-I.sqlite   task I's cells; a task started again skips what it finished
          merged.sqlite    the shards merged by a last job, which then renders <experiment>.md
          logs/            one log per job and task

        `reclab status RESULTS` shows the cells done per shard.

        slurm: writes stages.sbatch (when needed), shards.sbatch (a job array, requeueable)
        and merge.sbatch, and submits them chained with --dependency=afterok. The jobs run
        this reclab executable, in this working directory, with this environment's
        RECLAB_DATA and RECLAB_MODELS.
          --partition P, --time T, --cpus C (per task), --mem M    as sbatch's options
          --sbatch-arg ARG     any other sbatch option, added to every script (repeatable)
          --dry-run            print the scripts; write and submit nothing

        k8s: writes one manifest (results/<experiment>/k8s.yaml, or --out PATH): a volume
        claim for the results, an Indexed Job (completionMode: Indexed, parallelism N, the
        shard from JOB_COMPLETION_INDEX) whose first init container builds the shared stages,
        and a merge Job that waits for the shards. Apply it with `kubectl apply -f`.
          --image IMAGE        a container image with reclab, its models and data (required)
          --storage SIZE       the results volume (default 10Gi); --storage-class NAME
          --cpus C, --mem M    requests (and limits) per task
          --namespace NS       (default: default)

        Common options:
          --jobs N             shards (required)
          --results DIR        results folder
          --set KEY=VALUE      override a spec value in every task (repeatable)
          --data-root DIR      where datasets live, for every task

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(
            raw,
            options: [
                "--jobs", "--results", "--set", "--data-root", "--partition", "--time", "--cpus", "--mem", "--sbatch-arg", "--image", "--storage", "--storage-class",
                "--namespace", "--out", "--max-cells",
            ], flags: ["--dry-run"])
        let words = try args.positionals(2, "the scheduler (slurm or k8s) and the spec FILE")
        guard ["slurm", "k8s"].contains(words[0]) else {
            throw RecError.usage("unknown scheduler '\(words[0])'; reclab submits to slurm or k8s")
        }
        guard args.value("--jobs") != nil else { throw RecError.usage("submit needs --jobs N (the number of shards)") }
        let jobs = try args.int("--jobs", default: 1, in: 1...100_000)
        let plan = try loadPlan(words[1], args)
        let runner = try stageKeyRunner(dataRoot: args.value("--data-root"))
        let hasStages = try plan.cells.contains { try !runner.stageReferences($0).isEmpty }
        let submission = ClusterSubmission(
            executable: currentExecutable(), spec: absolutePath(words[1]), experiment: plan.info.name, jobs: jobs,
            results: absolutePath(args.value("--results") ?? "results/\(plan.info.name)"), workingDirectory: FileManager.default.currentDirectoryPath,
            runArguments: args.values("--set").flatMap { ["--set", $0] } + (args.value("--data-root").map { ["--data-root", absolutePath($0)] } ?? []),
            hasStages: hasStages)
        if words[0] == "slurm" { return try SlurmSubmission(submission, args).submit(dryRun: args.has("--dry-run")) }
        return try KubernetesSubmission(submission, args).write(to: args.value("--out"))
    }
}

/// `reclab submit slurm`: three sbatch scripts chained by afterok dependencies.
struct SlurmSubmission {
    let submission: ClusterSubmission
    let options: [String]

    init(_ submission: ClusterSubmission, _ args: CommandArguments) throws {
        self.submission = submission
        var options: [String] = []
        if let partition = args.value("--partition") { options.append("--partition=\(partition)") }
        if let time = args.value("--time") { options.append("--time=\(time)") }
        if args.value("--cpus") != nil { options.append("--cpus-per-task=\(try args.int("--cpus", default: 1, in: 1...4096))") }
        if let memory = args.value("--mem") { options.append("--mem=\(memory)") }
        for extra in args.values("--sbatch-arg") {
            guard extra.hasPrefix("-") else { throw RecError.usage("--sbatch-arg takes an sbatch option such as --account=NAME, got '\(extra)'") }
            options.append(extra)
        }
        self.options = options
    }

    /// One sbatch script: its directives, the environment the jobs need, then `commands`.
    func script(name: String, log: String, extra: [String] = [], commands: [String]) -> String {
        let s = submission
        var lines = ["#!/bin/bash", "#SBATCH --job-name=reclab-\(s.experiment)-\(name)", "#SBATCH --chdir=\(s.workingDirectory)", "#SBATCH --output=\(s.results)/logs/\(log)"]
        lines += (extra + options).map { "#SBATCH \($0)" }
        lines.append("set -euo pipefail")
        for variable in ["RECLAB_DATA", "RECLAB_MODELS"] {
            if let value = ProcessInfo.processInfo.environment[variable] { lines.append("export \(variable)=\(shell([absolutePath(value)]))") }
        }
        return (lines + commands).joined(separator: "\n") + "\n"
    }

    /// A task cancelled with scancel fails the merge job's afterok dependency for good, even
    /// when the task is then requeued and succeeds; so a task that runs again (requeued after a
    /// cancel, or preempted) sets the merge job's dependency once more, on every task.
    var rearmMerge: [String] {
        let record = shell([submission.results + "/submission.json"])
        return [
            "if [ \"${SLURM_RESTART_COUNT:-0}\" -gt 0 ] && [ -f \(record) ]; then",
            "    merge=$(sed -n 's/.*\"merge\" : \"\\([0-9]*\\)\".*/\\1/p' \(record))",
            "    tasks=$(for i in $(seq 0 \(submission.jobs - 1)); do printf ':%s_%s' \"$SLURM_ARRAY_JOB_ID\" \"$i\"; done)",
            "    [ -z \"$merge\" ] || scontrol update jobid=\"$merge\" dependency=\"afterok$tasks\" || true",
            "fi",
        ]
    }

    var scripts: [(file: String, text: String)] {
        let s = submission
        var out: [(String, String)] = []
        if s.hasStages { out.append(("stages.sbatch", script(name: "stages", log: "stages.log", commands: s.stagesCommands))) }
        out.append(
            (
                "shards.sbatch",
                script(
                    name: "shards", log: "shard-%a.log", extra: ["--array=0-\(s.jobs - 1)", "--requeue", "--open-mode=append"],
                    commands: rearmMerge + s.shardCommands(indexVariable: "SLURM_ARRAY_TASK_ID"))
            ))
        out.append(("merge.sbatch", script(name: "merge", log: "merge.log", commands: s.mergeCommands)))
        return out
    }

    func submit(dryRun: Bool) throws -> Int32 {
        if dryRun {
            for (index, (file, text)) in scripts.enumerated() {
                let after = index == 0 ? "" : "--dependency=afterok:<job of \(scripts[index - 1].file)> "
                print("# sbatch --parsable \(after)\(submission.results)/\(file)\n\(text)")
            }
            return 0
        }
        var ids: [String: String] = [:]
        var previous: String?
        for (file, text) in scripts {
            let path = submission.results + "/" + file
            try submission.write(text, to: path)
            try FileManager.default.createDirectory(atPath: submission.results + "/logs", withIntermediateDirectories: true)
            let id = try sbatch(["--parsable"] + (previous.map { ["--dependency=afterok:\($0)"] } ?? []) + [path])
            ids[(file as NSString).deletingPathExtension] = id
            previous = id
            print("submitted \(file): job \(id)")
        }
        try submission.writeRecord(scheduler: "slurm", jobIDs: ids)
        print("results: \(submission.results) (reclab status \(submission.results))")
        return 0
    }

    /// Runs sbatch and returns the job id it prints (`--parsable`: `ID` or `ID;CLUSTER`).
    func sbatch(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch"] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { throw RecError(.io, "cannot run sbatch: \(describeSystemError(error))") }
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            if process.terminationStatus == 127 { throw RecError(.io, "sbatch is not on PATH: submit from a Slurm login node, or print the scripts with --dry-run") }
            throw RecError(.io, "sbatch \(arguments.last ?? "") failed (exit \(process.terminationStatus)): \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard let id = out.split(separator: "\n").last?.split(separator: ";").first, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw RecError(.io, "sbatch printed no job id: '\(out.trimmingCharacters(in: .whitespacesAndNewlines))'")
        }
        return String(id)
    }
}
