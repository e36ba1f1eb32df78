import Foundation
import RecCore
import RecEval
import RecStore
import Testing

@testable import RecReport

/// The report's margin claims (`evaluation.margins`) at each sweep point, from a results store
/// built by hand: a pipeline within the margin at the base point, well outside it at a sweep
/// point, a claim whose cells have not run, and one on a metric without per-user values.
struct MarginReportTests {
    static let users = 200

    /// Each user's absolute error: `mf` draws one per user; `tuned` adds a small shift at the
    /// base point and a large one at the sweep point.
    static func errors(_ pipeline: String, point: String) -> [Double] {
        var rng = SplitMix64(seed: 7)
        let mf = (0..<users).map { _ in Double(rng.nextInt(below: 1500)) / 1000 }
        guard pipeline != "mf" else { return mf }
        var noise = SplitMix64(seed: point == "base" ? 11 : 13)
        let shift = point == "base" ? 0.02 : 0.3
        return mf.map { max(0, $0 + shift + Double(noise.nextInt(below: 200)) / 1000 - 0.1) }
    }

    static func store(_ label: String, claims: Bool = true) throws -> ResultStore {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reclab-report-margins-\(label)-\(getpid())")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try ResultStore(path: folder.appendingPathComponent("r.sqlite").path)
        let pipelines = ["mf", "tuned", "late"], labels = ["base", "data.train_fraction=0.01"]
        let points = labels.map { label in
            ExperimentInfo.Point(label: label, cells: pipelines.map { ExperimentInfo.CellRef(pipeline: $0, seed: 1, key: "\(label)-\($0)") })
        }
        let info = ExperimentInfo(
            name: "exp-m", description: nil, specFile: "Experiments/exp-m.yaml", dataset: "toy", split: "leave-one-out", protocolDescription: "rating",
            metrics: ["mae", "auc"], cutoffs: [10], baseline: nil, seeds: [1], pipelines: pipelines, pipelineComponents: [:], points: points,
            margins: claims
                ? [
                    .init(pipeline: "tuned", against: "mf", metric: "mae", margin: 0.1),
                    .init(pipeline: "late", against: "mf", metric: "mae", margin: 0.1),
                    .init(pipeline: "tuned", against: "mf", metric: "auc", margin: 0.01),
                ] : nil)
        let refs = points.flatMap { point in point.cells.map { (point.label, $0) } }
        let experiment = try store.register(
            experiment: "exp-m", specFile: info.specFile, specHash: "m", infoJSON: String(decoding: try JSONEncoder().encode(info), as: UTF8.self),
            plan: refs.map { ResultStore.PlannedCell(key: $1.key, pipeline: $1.pipeline, sweepLabel: $0, seed: 1, configHash: $1.key, configJSON: "{}") })
        for (label, ref) in refs where !(ref.pipeline == "late" && label != "base") {
            let values = errors(ref.pipeline, point: label)
            let result = ResultStore.CellResult(
                dataFingerprint: "f00d", datasetStatsJSON: "{}", metrics: [("mae", 0, values.reduce(0, +) / Double(users)), ("auc", 0, 0.7)], users: (0..<Int32(users)).map { $0 },
                perUser: [("mae", 0, values), ("auc", 0, [Double](repeating: .nan, count: users))], timings: [], costs: [], curves: [])
            _ = try store.finish(cell: try store.status(experiment: experiment, cell: ref.key).id, result: result)
        }
        return store
    }

    @Test func eachClaimIsTestedAtEveryPointAndCorrectedAsOneFamily() throws {
        let markdown = try MarkdownReport.render(store: try Self.store("claims"), experiment: "exp-m", figureFolder: "f").markdown
        let section = try #require(markdown.range(of: "## Within a margin\n\n"))
        let text = String(markdown[section.upperBound...])
        #expect(text.contains("The 3 tests form one family"))
        let base = try #require(Significance.nonInferiority(Self.errors("tuned", point: "base"), Self.errors("mf", point: "base"), margin: 0.1, higherIsBetter: false))
        let small = try #require(
            Significance.nonInferiority(
                Self.errors("tuned", point: "data.train_fraction=0.01"), Self.errors("mf", point: "data.train_fraction=0.01"), margin: 0.1, higherIsBetter: false))
        #expect(base.pValue < 0.01 && base.upper < 0.1 && base.worsening > 0, "\(base)")
        #expect(small.pValue > 0.99 && small.worsening > 0.2, "\(small)")
        // `late` has `tuned`'s errors at the base point, so its test there is the same.
        let adjusted = MultipleComparisons.adjust([base.pValue, small.pValue, base.pValue], method: .holm)
        let baseRow = try #require(text.split(separator: "\n").first { $0.hasPrefix("| base | tuned | mf | mae | 200 |") })
        #expect(baseRow.contains(String(format: "%+.4f | %+.4f | 0.1000 | ", base.worsening, base.upper) + MarkdownReport.pValue(base.pValue)), "\(baseRow)")
        #expect(baseRow.hasSuffix("| ✓ | \(MarkdownReport.pValue(Significance.pairedTTest(Self.errors("tuned", point: "base"), Self.errors("mf", point: "base"))?.pValue)) |"))
        let smallRow = try #require(text.split(separator: "\n").first { $0.hasPrefix("| data.train_fraction=0.01 | tuned | mf | mae |") })
        #expect(smallRow.contains("| \(MarkdownReport.pValue(adjusted[1])) |  |"), "\(smallRow)")
        // `late` ran at the base point only: tested there, named as untested at the sweep point.
        #expect(text.contains("| base | late | mf | mae | 200 |"))
        #expect(text.contains("Not tested: late against mf at data.train") && text.contains("(a side has unfinished cells)"))
        // Each user's AUC over one pair is undefined: nothing to test, and the report says so.
        #expect(text.contains("tuned against mf at base (0 user(s) with a per-user auc)"))
    }

    @Test func aSpecWithoutClaimsHasNoSection() throws {
        let markdown = try MarkdownReport.render(store: try Self.store("none", claims: false), experiment: "exp-m", figureFolder: "f").markdown
        #expect(markdown.contains("## Ablation") && !markdown.contains("Within a margin"))
    }
}
