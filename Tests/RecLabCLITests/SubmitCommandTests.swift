import Foundation
import RecSpec
import RecTesting
import Testing

/// `reclab plan --jsonl`, `run --stages-only`, `submit slurm --dry-run`, `submit k8s` (its
/// manifest against Kubernetes' batch/v1 and core/v1 schemas) and `status`. The real Slurm run
/// is scripts/slurm-test.sh's.
@Suite(.serialized) struct SubmitCommandTests {
    static let karSpec = Fixtures.directory + "/tiny/tiny-kar.yaml"

    /// One object per cell, with its stages' keys: the two pipelines share nothing, and a stored
    /// run gives the estimate.
    @Test func planJSONLinesListStagesAndEstimates() throws {
        let folder = Fixtures.temporaryDirectory()
        let out = try CLI.run(["plan", tinySpec, "--jsonl"])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = try out.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let plain = try CLI.run(["plan", tinySpec]).stdout.split(separator: "\n")
        #expect(lines.count == plain.count && lines.allSatisfy { ($0["stages"] as? [Any])?.isEmpty == true && $0["estimated_seconds"] == nil })
        #expect(lines.map { ($0["key"] as! String).prefix(12) } == plain.map { $0.split(separator: "\t")[1] })
        let db = folder + "/tiny.sqlite"
        #expect(try CLI.run(["run", tinySpec, "--db", db, "--no-report", "--pipelines", "popularity", "--set", "seeds=[1]"]).status == 0)
        let estimated = try CLI.run(["plan", tinySpec, "--jsonl", "--db", db]).stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        for line in estimated {
            let ran = line["pipeline"] as? String == "popularity" && line["seed"] as? Int == 1
            #expect((line["estimate"] as? String) == (ran ? "cell" : line["pipeline"] as? String == "popularity" ? "pipeline" : nil), "\(line)")
        }
        let kar = try CLI.run(["plan", Self.karSpec, "--jsonl"]).stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let stages = try #require(kar.first { $0["pipeline"] as? String == "kar-deepfm" }?["stages"] as? [[String: String]])
        #expect(stages.map { $0["type"]! } == ["kar.history", "kar.reasoning", "kar.facts", "hashing-tfidf"])
        #expect(stages.map { $0["stage"]! } == ["augment", "augment", "augment", "encode"])
    }

    /// Three chained scripts: the stages job, the requeueable array of shards that start from
    /// its database, and the merge with the report; options land as directives.
    @Test func slurmDryRunPrintsTheScripts() throws {
        let out = try CLI.run([
            "submit", "slurm", Self.karSpec, "--jobs", "3", "--dry-run", "--partition", "debug", "--time", "0:30:00", "--sbatch-arg=--account=lab", "--results",
            "/tmp/r", "--set", "seeds=[1, 2]",
        ])
        #expect(out.status == 0, "\(out.stderr)")
        for line in [
            "# sbatch --parsable /tmp/r/stages.sbatch", "run \(Self.karSpec) --stages-only --db /tmp/r/stages.sqlite --set 'seeds=[1, 2]'",
            "# sbatch --parsable --dependency=afterok:<job of stages.sbatch> /tmp/r/shards.sbatch", "#SBATCH --array=0-2", "#SBATCH --requeue",
            "merge --db \"/tmp/r/shard-${SLURM_ARRAY_TASK_ID}.sqlite\" /tmp/r/stages.sqlite",
            "--shard \"${SLURM_ARRAY_TASK_ID}/3\" --db \"/tmp/r/shard-${SLURM_ARRAY_TASK_ID}.sqlite\" --no-report --set 'seeds=[1, 2]'",
            "# sbatch --parsable --dependency=afterok:<job of shards.sbatch> /tmp/r/merge.sbatch",
            "merge --db /tmp/r/merged.sqlite /tmp/r/shard-0.sqlite /tmp/r/shard-1.sqlite /tmp/r/shard-2.sqlite",
            "report tiny-kar --db /tmp/r/merged.sqlite --out /tmp/r/tiny-kar.md", "#SBATCH --partition=debug", "#SBATCH --time=0:30:00", "#SBATCH --account=lab",
        ] {
            #expect(out.stdout.contains(line), "\(line)\n\(out.stdout)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/r/shards.sbatch"), "a dry run writes nothing")
        // A plan without stages has no stages job.
        let plain = try CLI.run(["submit", "slurm", tinySpec, "--jobs", "2", "--dry-run", "--results", "/tmp/r"])
        #expect(!plain.stdout.contains("stages") && plain.stdout.contains("# sbatch --parsable /tmp/r/shards.sbatch"), "\(plain.stdout)")
        for (arguments, words) in [
            (["submit", "slurm", tinySpec], "--jobs N"), (["submit", "pbs", tinySpec, "--jobs", "2"], "unknown scheduler 'pbs'"),
            (["submit", "slurm", tinySpec, "--jobs", "0"], "--jobs"), (["submit", "k8s", tinySpec, "--jobs", "2"], "--image"),
            (["submit", "slurm", tinySpec, "--jobs", "2", "--sbatch-arg", "account"], "--sbatch-arg"),
        ] {
            let bad = try CLI.run(arguments)
            #expect(bad.status == 64 && bad.stderr.contains(words), "\(arguments): \(bad.stderr)")
        }
    }

    /// The manifest's claim and Jobs pass the strict schemas of Kubernetes 1.33, and a
    /// misspelled field does not (so the check can fail).
    @Test func kubernetesManifestPassesTheSchema() throws {
        let folder = Fixtures.temporaryDirectory()
        let path = folder + "/k8s.yaml"
        let out = try CLI.run(["submit", "k8s", Self.karSpec, "--jobs", "3", "--image", "registry.example/reclab:1", "--cpus", "2", "--mem", "8Gi", "--out", path])
        #expect(out.status == 0, "\(out.stderr)")
        let schema = try KubernetesSchema(file: Fixtures.directory + "/k8s/schema.json")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let documents = try text.components(separatedBy: "\n---\n").map { try YAMLParser.parse($0, file: path) }
        #expect(documents.count == 4)
        var kinds: [String] = []
        for document in documents {
            #expect(schema.violations(of: document).isEmpty, "\(schema.violations(of: document))")
            kinds.append(document["kind"]?.scalar ?? "")
        }
        #expect(kinds == ["PersistentVolumeClaim", "Job", "Job", "Job"])
        let shards = try #require(documents.first { $0["metadata"]?["name"]?.scalar == "reclab-tiny-kar-shards" })
        #expect(shards["spec"]?["completionMode"]?.scalar == "Indexed" && shards["spec"]?["completions"]?.scalar == "3")
        #expect(text.contains("--shard \\\"${JOB_COMPLETION_INDEX}/3\\\""))
        for (wrong, right) in [("completionMode:", "completionsMode:"), ("restartPolicy: \"OnFailure\"", "restartPolicy: 3"), ("claimName:", "claim:")] {
            let broken = try YAMLParser.parse(text.components(separatedBy: "\n---\n")[2].replacingOccurrences(of: wrong, with: right), file: path)
            #expect(!schema.violations(of: broken).isEmpty, "\(right) passed")
        }
    }

    /// Per shard: cells done and to run, from each shard's database and the plan's positions.
    @Test func statusCountsCellsPerShard() throws {
        let folder = Fixtures.temporaryDirectory()
        let record = "{\"experiment\": \"tiny\", \"ids\": {}, \"jobs\": 2, \"scheduler\": \"slurm\", \"spec\": \"\(tinySpec)\"}\n"
        try record.write(toFile: folder + "/submission.json", atomically: true, encoding: .utf8)
        #expect(try CLI.run(["run", tinySpec, "--db", folder + "/shard-0.sqlite", "--no-report", "--shard", "0/2", "--pipelines", "popularity"]).status == 0)
        let out = try CLI.run(["status", folder])
        #expect(out.status == 0, "\(out.stderr)")
        let total = try CLI.run(["plan", tinySpec]).stdout.split(separator: "\n").count
        let popularity = try CLI.run(["plan", tinySpec, "--pipelines", "popularity", "--shard", "0/2"]).stdout.split(separator: "\n").count
        #expect(out.stdout.contains("shard 0: \(popularity) done, 0 running, 0 failed, \((total + 1) / 2 - popularity) to run"), "\(out.stdout)")
        #expect(out.stdout.contains("shard 1: not started") && out.stdout.contains("merged: not yet"), "\(out.stdout)")
        let missing = try CLI.run(["status", folder + "/nothing"])
        #expect(missing.status == 1 && missing.stderr.contains("submission.json does not exist"))
    }
}
