import Foundation
import RecTesting
import Testing

/// Command lines a hostile or careless user types: each exits 64 (a usage error) or 1 with a
/// message naming the flag, and none traps (a signal would show as a status above 128).
struct HostileFlagTests {
    @Test(arguments: [
        (["lm", "generate", "--seed", "-1"], "--seed expects a whole number from 0 to 18446744073709551615, got '-1'"),
        (["lm", "generate", "--seed", "99999999999999999999999"], "--seed expects a whole number"),
        (["lm", "generate", "--top-p", "0"], "top_p must be in (0, 1], got 0.0"),
        (["lm", "generate", "--top-p", "1.5"], "--top-p must be between 0.0 and 1.0"),
        (["lm", "generate", "--temperature", "-1"], "--temperature must be between 0.0 and 100.0, got -1.0"),
        (["lm", "generate", "--temperature", "nan"], "--temperature expects a finite number, got 'nan'"),
        (["lm", "generate", "--temperature", "inf"], "--temperature expects a finite number"),
        (["lm", "generate", "--top-k", "-5"], "--top-k must be between 0 and"),
        (["lm", "generate", "--max-tokens", "-1"], "--max-tokens must be between 0 and 1000000, got -1"),
        (["lm", "generate", "--max-tokens", "1e9"], "--max-tokens expects a whole number, got '1e9'"),
        (["lm", "generate", "--stop", ""], "a stop string must not be empty"),
        (["lm", "generate", "--backend", "openai", "--base-url", "file:///etc/passwd", "--model", "m"], "is not an http(s) URL"),
        (["run", "SPEC", "--pipelines", ""], "--pipelines needs at least one pipeline name"),
        (["run", "SPEC", "--pipelines", " , "], "--pipelines needs at least one pipeline name"),
        (["run", "SPEC", "--db", "--quiet"], "--db needs a value, found the option '--quiet'"),
        (["run", "SPEC", "--set", "evaluation.cutoffs="], "write evaluation.cutoffs=null to reset it"),
        (["run", "SPEC", "--set", "extends=../other.yaml"], "--set cannot change 'extends'"),
        (["run", "SPEC", "--max-cells", "0"], "--max-cells must be between 1 and 100000000"),
        (["run", "SPEC", "--shard", "1/0"], "--shard expects i/n"),
        (["plan", "SPEC", "--max-cells", "ten"], "--max-cells expects a whole number, got 'ten'"),
        (["bench", "eval", "--users", "-3"], "--users must be between 1 and"),
        (["bench", "eval", "--users", "2000000000", "--dim", "2000000000"], "--users x --dim and --items x --dim must each be at most 2^30 values"),
        (["bench", "eval", "--items", "5", "--history", "20"], "--items must exceed --history + 1"),
        (["bench", "lm", "--repeat", "0"], "--repeat must be between 1 and"),
        (["bench", "quant", "--format", "Q9_9"], "--format Q9_9 is not one of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K"),
        (["bench", "quant", "--format", "Q4_K", "--columns", "576"], "--format Q4_K needs --columns a multiple of 256"),
        (["palr", "export-instructions", "SPEC", "--candidates", "-2"], "--candidates must be between 1 and"),
        (["report", "tiny", "--format", "docx"], "--format takes markdown, latex or csv, not 'docx'"),
        (["compare", "tiny"], "compare needs at least two experiment names"),
    ])
    func badFlagsAreUsageErrors(_ arguments: [String], _ message: String) throws {
        let output = try CLI.run(arguments.map { $0 == "SPEC" ? tinySpec : $0 }, input: "hi\n", environment: ["RECLAB_MODELS": "/nonexistent-models"])
        #expect(output.status == 64, "\(arguments): status \(output.status): \(output.stderr)")
        #expect(output.stderr.contains(message), "\(arguments): \(output.stderr)")
    }

    @Test(arguments: [
        ("missing.yaml", "spec file 'missing.yaml' does not exist"),
        ("/dev/null", "is not a regular file"),
        ("/tmp", "is a folder, not a file"),
    ])
    func badSpecPathsAreNamed(_ path: String, _ message: String) throws {
        let output = try CLI.run(["validate", path])
        #expect(output.status == 1 && output.stderr.contains(message), "\(output.stderr)")
    }

    @Test func nonFiniteSpecValuesAreLocatedSpecErrors() throws {
        let output = try CLI.run(["validate", tinySpec, "--set", "data.rating_threshold=.inf"])
        #expect(output.status == 1)
        #expect(output.stderr.contains("--set data.rating_threshold:1:1: data.rating_threshold: expected a finite number"), "\(output.stderr)")
        #expect(!output.stderr.contains("EncodingError"))
    }

    @Test func anUnwritableReportIsNamedInWords() throws {
        let folder = Fixtures.temporaryDirectory("hostile-report")
        try "".write(toFile: folder + "/file", atomically: true, encoding: .utf8)
        let output = try CLI.run([
            "run", tinySpec, "--db", folder + "/r.sqlite", "--pipelines", "popularity", "--set", "sweep=null", "--set", "seeds=[1]",
            "--report", folder + "/file/report.md", "--quiet",
        ])
        #expect(output.status == 1)
        #expect(output.stderr.contains("cannot write the report '\(folder)/file/report.md'"), "\(output.stderr)")
        #expect(!output.stderr.contains("NSCocoaErrorDomain"), "\(output.stderr)")
    }

    @Test func credentialsInABaseURLAreNotPrinted() throws {
        let output = try CLI.run(
            [
                "lm", "generate", "--backend", "openai", "--base-url", "http://dave:topsecret@127.0.0.1:9", "--model", "m", "--db",
                Fixtures.temporaryDirectory("hostile-cli") + "/c.sqlite",
            ], input: "hi\n")
        #expect(output.status == 1)
        #expect(output.stderr.contains("127.0.0.1:9") && !output.stderr.contains("topsecret"), "\(output.stderr)")
    }

    @Test func reportsEscapePipelineNames() throws {
        let folder = Fixtures.temporaryDirectory("hostile-report")
        let spec = """
            name: escaped
            data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole }
            evaluation: { metrics: [hr], cutoffs: [5], baseline: "a|b" }
            seeds: [1]
            pipelines:
              "a|b": { retriever: { type: popularity } }
              "`tick`": { retriever: { type: itemknn, neighbors: 5 } }
              "<b>*x*</b>": { retriever: { type: ease, l2: 10 } }

            """
        try spec.write(toFile: folder + "/escaped.yaml", atomically: true, encoding: .utf8)
        let output = try CLI.run(["run", folder + "/escaped.yaml", "--db", folder + "/r.sqlite", "--report", folder + "/escaped.md", "--quiet"])
        #expect(output.status == 0, "\(output.stderr)")
        let report = try String(contentsOfFile: folder + "/escaped.md", encoding: .utf8)
        #expect(report.contains("| a\\|b | "))
        #expect(report.contains("| \\`tick\\` | "))
        #expect(report.contains("| \\<b\\>\\*x\\*\\</b\\> | "))
        #expect(report.contains("- ``a|b``: popularity") || report.contains("- `a|b`: popularity"))
        #expect(report.contains("- `` `tick` ``: itemknn"))
        // Every table row has as many cells as its header.
        for table in report.components(separatedBy: "\n\n") where table.hasPrefix("|") {
            let rows = table.split(separator: "\n").map { $0.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count }
            #expect(Set(rows).count == 1, "\(table)")
        }
    }
}
