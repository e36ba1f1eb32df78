import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecStore
import RecTesting
import Testing

@testable import RecSpec

/// Specs built to exhaust the parser or the planner, and overrides that used to be taken
/// silently: each fails fast with its location, and none is echoed whole.
struct HostileSpecTests {
    static let head = """
        name: t
        data: { dataset: tiny, path: ../tiny, format: recbole }
        evaluation: { metrics: [hr], cutoffs: [5] }
        pipelines:
          pop: { retriever: { type: popularity } }

        """

    func write(_ text: String) throws -> String {
        let folder = Fixtures.temporaryDirectory("hostile-spec")
        let path = folder + "/spec.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func error(_ text: String, overrides: [String] = []) throws -> RecError? {
        let path = try write(text)
        return #expect(throws: RecError.self) { _ = try ExperimentPlan(try SpecLoader.load(path: path, overrides: overrides), registry: try makeRegistry()) }
    }

    @Test func fortyThousandNestedListsAreADepthErrorNotAStackOverflow() throws {
        let deep = String(repeating: "[", count: 40_000) + String(repeating: "]", count: 40_000)
        let error = try error(Self.head + "definitions: { deep: \(deep) }\n")
        #expect(error?.message.contains("nest deeper than 200 levels") == true)
        #expect(error?.location?.line == 6)
        let mappings = String(repeating: "{a: ", count: 40_000) + "1" + String(repeating: "}", count: 40_000)
        #expect(try self.error(Self.head + "definitions: \(mappings)\n")?.message.contains("nest deeper") == true)
    }

    @Test func aBillionLaughsStopsAtTheNodeLimit() throws {
        var text = Self.head + "definitions:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 { text += "  l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(try error(text)?.message.contains("expands to more than 1000000 nodes") == true)
    }

    @Test func longListsBuildInLinearTime() throws {
        // 40,000 seeds once took 35 s (every append copied the list); the limit here is only
        // that the test finishes, so it asserts the result, not the time.
        let seeds = (1...40_000).map(String.init).joined(separator: ", ")
        let path = try write(Self.head.replacingOccurrences(of: "pipelines:", with: "seeds: [\(seeds)]\npipelines:"))
        let loaded = try SpecLoader.load(path: path, maxCells: 40_000)
        #expect(loaded.base.seeds.count == 40_000 && loaded.base.seeds.last == 40_000)
        // 40,000 cells is over the default limit.
        let refused = #expect(throws: RecError.self) { _ = try SpecLoader.load(path: path) }
        #expect(refused?.message.contains("the plan has 40000 cells (1 pipelines x 40000 seeds), over the limit of 10000") == true)
    }

    @Test func aMillionCellSweepIsRefusedBeforeExpansionUnlessAllowed() throws {
        let values = (1...1000).map(String.init).joined(separator: ", ")
        let text = Self.head + "sweep:\n  evaluation.seed: [\(values)]\n  evaluation.batch_users: [\(values)]\n"
        let refused = try error(text)
        #expect(refused?.message.contains("expands to 1000000 points and 1000000 cells, over the limit of 10000") == true)
        #expect(refused?.message.contains("--max-cells") == true && refused?.keyPath == "sweep")
        let small = Self.head + "sweep:\n  evaluation.seed: [1, 2, 3]\n"
        #expect(try SpecLoader.load(path: try write(small), maxCells: 4).points.count == 4)
        #expect(throws: RecError.self) { _ = try SpecLoader.load(path: try write(small), maxCells: 3) }
    }

    @Test func extendsNeverEchoesTheFileItReads() throws {
        for target in ["/etc/passwd", "/etc/hostname", "/proc/self/environ"] where FileManager.default.fileExists(atPath: target) {
            let error = try error("extends: \(target)\n" + Self.head)
            let text = error?.description ?? ""
            #expect(!text.contains("root:") && !text.contains("PATH="), "\(text)")
            #expect(error?.kind == .spec)
        }
        let fifo = Fixtures.temporaryDirectory("hostile-spec") + "/base.yaml"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(try error("extends: \(fifo)\n" + Self.head)?.message.contains("is not a regular file") == true)
    }

    @Test func overridesThatUsedToBeIgnoredAreErrors() throws {
        let path = try write(Self.head)
        let reset = #expect(throws: RecError.self) { _ = try SpecLoader.load(path: path, overrides: ["evaluation.cutoffs="]) }
        #expect(reset?.message.contains("write evaluation.cutoffs=null") == true && reset?.kind == .usage)
        let extends = #expect(throws: RecError.self) { _ = try SpecLoader.load(path: path, overrides: ["extends=other.yaml"]) }
        #expect(extends?.message.contains("cannot change 'extends'") == true)
        let nan = #expect(throws: RecError.self) { _ = try SpecLoader.load(path: path, overrides: ["data.rating_threshold=.nan"]) }
        #expect(nan?.description.contains("--set data.rating_threshold:1:1") == true && nan?.message.contains("finite") == true)
        // An explicit null still resets a value to its default.
        #expect(try SpecLoader.load(path: path, overrides: ["evaluation.cutoffs=null"]).base.evaluation.cutoffs == [10])
    }

    @Test func aHugeValueIsQuotedShortly() throws {
        let name = String(repeating: "n", count: 1 << 20)
        let error = try error(Self.head.replacingOccurrences(of: "name: t", with: "name: \(name)"))
        #expect((error?.description.count ?? .max) < 400)
        #expect(error?.message.contains("more characters") == true)
    }

    @Test func tooManySampledNegativesAreAnError() throws {
        let text = Self.head.replacingOccurrences(of: "evaluation: { metrics: [hr], cutoffs: [5] }", with: "evaluation: { protocol: sampled, negatives: 5000, metrics: [hr], cutoffs: [5] }")
            .replacingOccurrences(of: "path: ../tiny", with: "path: \(Fixtures.directory)/tiny")
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(text)), registry: try makeRegistry())
        let store = try ResultStore(path: Fixtures.temporaryDirectory("hostile-spec") + "/r.sqlite")
        let runner = Runner(registry: try makeRegistry(), store: store, data: DataStage(catalog: DataCatalog(root: Fixtures.directory)), progress: ProgressReporter(quiet: true))
        let summary = try runner.run(plan, cells: plan.cells)
        #expect(summary.failed.count == 1)
        #expect(summary.failed.first?.contains("5000 sampled negatives per held-out item need a catalogue of more than 5000 items") == true, "\(summary.failed)")
    }
}
