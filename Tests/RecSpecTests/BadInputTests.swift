import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecSpec
import RecTesting
import Testing

/// Every file in Tests/Fixtures/bad names the error it must produce in its first two lines:
/// `# expect-location: FILE:LINE:COLUMN` (or a data file path, or a key) and
/// `# expect-message: TEXT`. The whole path a spec takes in `reclab run` is exercised: parse,
/// extends, sweep, strict decoding, plugin configuration, data loading.
struct BadInputTests {
    static let cases: [String] = {
        let folder = Fixtures.directory + "/bad"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }()

    @Test func thereAreAtLeastThirtyBadInputs() {
        #expect(Self.cases.count >= 30)
    }

    @Test(arguments: cases)
    func badInputGivesLocatedError(_ name: String) throws {
        let path = Fixtures.directory + "/bad/" + name
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let location = String(lines[0].dropFirst("# expect-location: ".count))
        let message = String(lines[1].dropFirst("# expect-message: ".count))
        #expect(!message.isEmpty)
        do {
            let plan = try ExperimentPlan(try SpecLoader.load(path: path), registry: try makeRegistry())
            let stage = DataStage(catalog: DataCatalog(root: Fixtures.directory))
            try Runner.preflight(plan.cells, data: stage, registry: try makeRegistry())
            Issue.record("\(name): no error was raised")
        } catch let error as RecError {
            #expect(error.description.contains(message), "\(name): \(error.description)")
            #expect(error.description.contains(location), "\(name): \(error.description)")
            #expect(error.kind != .usage)
        }
    }
}
