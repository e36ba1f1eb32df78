import Foundation
import RecTesting
import Testing

/// TIGER end to end on the tiny dataset: encoder vectors, semantic IDs, the sequence model and
/// beam search in one run, the codebook statistics in the report, and a pipeline without the
/// semantic-ID stage refused before anything runs.
struct TIGERCommandTests {
    static let spec = Fixtures.directory + "/tiny/tiny-tiger.yaml"

    @Test func runsAndReportsTheCodebook() throws {
        let folder = Fixtures.temporaryDirectory()
        let run = try CLI.run(["run", Self.spec, "--db", folder + "/t.sqlite", "--report", folder + "/t.md"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("semantic IDs (residual_kmeans): codebook usage per level"), "\(run.stderr)")
        let report = try String(contentsOfFile: folder + "/t.md", encoding: .utf8)
        #expect(report.contains("| tiger |") && report.contains("codes used, level 1") && report.contains("items sharing their codes"), "\(report)")
        let none = try CLI.run(["validate", Self.spec, "--set", "pipelines.tiger.derive=[]"])
        #expect(none.status == 1 && none.stderr.contains("'tiger' reads the semantic IDs, which no derive stage of pipeline 'tiger' builds"), "\(none.stderr)")
    }
}
