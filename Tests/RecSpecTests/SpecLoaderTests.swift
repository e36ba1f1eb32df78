import AllPlugins
import Foundation
import RecCore
import RecRunner
import RecTesting
import Testing

@testable import RecSpec

struct SpecLoaderTests {
    static let base = """
        name: t
        data: { dataset: tiny, path: ../tiny, format: recbole }
        evaluation: { metrics: [hr, ndcg], cutoffs: [5, 10], baseline: pop }
        seeds: [1, 2]
        pipelines:
          pop: { retriever: { type: popularity } }
          ease: { retriever: { type: ease, l2: 10 } }
          bpr: { retriever: { type: bprmf, factors: 8, epochs: 2 } }

        """

    func write(_ text: String, name: String = "spec.yaml", in folder: String? = nil) throws -> String {
        let folder = folder ?? Fixtures.temporaryDirectory()
        let path = folder + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func decodesDefaultsAndKeepsPipelineOrder() throws {
        let loaded = try SpecLoader.load(path: try write(Self.base))
        #expect(loaded.base.pipelines.map(\.name) == ["pop", "ease", "bpr"])
        #expect(loaded.base.evaluation.protocol == .full)
        #expect(loaded.base.data.split.method == .leaveOneOut)
        #expect(loaded.base.seeds == [1, 2])
        #expect(loaded.points.count == 1)
    }

    @Test func overridesAreCheckedLikeFileValues() throws {
        let path = try write(Self.base)
        let loaded = try SpecLoader.load(path: path, overrides: ["pipelines.ease.retriever.l2=500", "seeds=[7]"])
        #expect(loaded.base.seeds == [7])
        let plan = try ExperimentPlan(loaded, registry: try makeRegistry())
        #expect(plan.cells.first { $0.pipeline.name == "ease" }?.headJSON == "{\"l2\":500}")
        let typo = #expect(throws: RecError.self) {
            _ = try ExperimentPlan(try SpecLoader.load(path: path, overrides: ["pipelines.ease.retriever.l3=5"]), registry: try makeRegistry())
        }
        #expect(typo?.description.contains("--set pipelines.ease.retriever.l3:1:1") == true, "\(String(describing: typo))")
        #expect(typo?.description.contains("did you mean 'l2'?") == true)
        let badPath = #expect(throws: RecError.self) { _ = try SpecLoader.load(path: path, overrides: ["pipelines.eas.retriever.l2=5"]) }
        #expect(badPath?.description.contains("no key 'eas' under 'pipelines'; did you mean 'ease'?") == true)
        let badType = #expect(throws: RecError.self) {
            _ = try ExperimentPlan(try SpecLoader.load(path: path, overrides: ["pipelines.ease.retriever.l2=big"]), registry: try makeRegistry())
        }
        #expect(badType?.description.contains("expected a number, found \"big\"") == true)
        #expect(throws: RecError.self) { _ = try SpecLoader.load(path: path, overrides: ["novalue"]) }
    }

    @Test func sweepIsACartesianGridPlusZippedAxes() throws {
        let text =
            Self.base + """
                sweep:
                  pipelines.ease.retriever.l2: [1, 100]
                  zip:
                    - pipelines.bpr.retriever.factors: [4, 16]
                      pipelines.bpr.retriever.epochs: [1, 3]

                """
        let loaded = try SpecLoader.load(path: try write(text))
        #expect(loaded.points.count == 1 + 4)
        #expect(loaded.points[1].label == "ease.retriever.l2=1, bpr.retriever.factors=4, bpr.retriever.epochs=1")
        #expect(loaded.points[4].label == "ease.retriever.l2=100, bpr.retriever.factors=16, bpr.retriever.epochs=3")
        let plan = try ExperimentPlan(loaded, registry: try makeRegistry())
        // pop is the same in every point: its cells are shared, not repeated.
        #expect(plan.cells.filter { $0.pipeline.name == "pop" }.count == 2)
        // ease: base l2=10 plus 1 and 100; bpr: base plus two zipped points; two seeds each.
        #expect(plan.cells.filter { $0.pipeline.name == "ease" }.count == 6)
        #expect(plan.cells.filter { $0.pipeline.name == "bpr" }.count == 6)
        #expect(plan.info.points.count == 5)
        #expect(Set(plan.cells.map(\.key)).count == plan.cells.count)
    }

    @Test func shardsPartitionThePlan() throws {
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(Self.base)), registry: try makeRegistry())
        let shards = (0..<4).map { plan.shard($0, of: 4).map(\.cell.key) }
        #expect(shards.flatMap { $0 }.sorted() == plan.cells.map(\.key).sorted())
        #expect(Set(shards.flatMap { $0 }).count == plan.cells.count)
    }

    @Test func extendsMergesDeeplyAndTheChildWins() throws {
        let folder = Fixtures.temporaryDirectory()
        _ = try write(Self.base, name: "base.yaml", in: folder)
        let child = try write("extends: base.yaml\nname: child\npipelines:\n  ease: { retriever: { type: ease, l2: 99 } }\n", name: "child.yaml", in: folder)
        let loaded = try SpecLoader.load(path: child)
        #expect(loaded.base.name == "child")
        #expect(loaded.base.pipelines.map(\.name) == ["pop", "ease", "bpr"])
        #expect(loaded.base.pipelines[1].retriever?.node["l2"]?.scalar == "99")
        // A null in the child removes the base's key: here a pipeline, and a nested setting.
        let fewer = try write(
            "extends: base.yaml\nname: fewer\npipelines:\n  bpr: null\n  ease: { retriever: { l2: ~ } }\n", name: "fewer.yaml", in: folder)
        let trimmed = try SpecLoader.load(path: fewer).base
        #expect(trimmed.pipelines.map(\.name) == ["pop", "ease"])
        #expect(trimmed.pipelines[1].retriever?.node["l2"] == nil && trimmed.pipelines[1].retriever?.node["type"]?.scalar == "ease")
    }

    @Test func cellKeysAreStableAndDependOnConfiguration() throws {
        let path = try write(Self.base)
        let a = try ExperimentPlan(try SpecLoader.load(path: path), registry: try makeRegistry())
        let b = try ExperimentPlan(try SpecLoader.load(path: path), registry: try makeRegistry())
        #expect(a.cells.map(\.key) == b.cells.map(\.key))
        let c = try ExperimentPlan(try SpecLoader.load(path: path, overrides: ["pipelines.ease.retriever.l2=11"]), registry: try makeRegistry())
        #expect(a.cells.filter { $0.pipeline.name == "ease" }.map(\.key) != c.cells.filter { $0.pipeline.name == "ease" }.map(\.key))
        #expect(a.cells.filter { $0.pipeline.name == "pop" }.map(\.key) == c.cells.filter { $0.pipeline.name == "pop" }.map(\.key))
        // Writing the default explicitly is the same configuration.
        let d = try ExperimentPlan(try SpecLoader.load(path: path, overrides: ["pipelines.bpr.retriever.learning_rate=0.05"]), registry: try makeRegistry())
        #expect(a.cells.map(\.key) == d.cells.map(\.key))
    }

    @Test func shippedExperimentsValidate() throws {
        let folder = Fixtures.packageRoot + "/Experiments"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for file in files {
            _ = try ExperimentPlan(try SpecLoader.load(path: folder + "/" + file), registry: try makeRegistry())
        }
    }
}
