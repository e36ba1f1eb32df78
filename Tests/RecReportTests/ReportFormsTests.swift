import Foundation
import RecCore
import RecEval
import RecStore
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

@testable import RecReport

/// Reports rendered from a results store built by hand: figures, the MDE column, LaTeX, CSV,
/// and the leaderboard with its refusal of experiments that are not comparable.
struct ReportFormsTests {
    static let users = 300

    /// Registers an experiment and finishes its cells, except those of the `unfinished`
    /// pipelines: `good` hits 40% of users, the others 20%; `good` used a language model and has
    /// a loss curve.
    static func add(
        _ store: ResultStore, name: String, pipelines: [String], protocolText: String = "full ranking over all items", baseline: String? = nil, metrics: [String] = ["hr"],
        undefinedUser: Int? = nil, comparisons: [[String]]? = nil, unfinished: Set<String> = []
    ) throws {
        let seeds: [UInt64] = [1, 2]
        let refs = pipelines.flatMap { pipeline in seeds.map { ExperimentInfo.CellRef(pipeline: pipeline, seed: $0, key: "\(name)-\(pipeline)-\($0)") } }
        let info = ExperimentInfo(
            name: name, description: nil, specFile: "Experiments/\(name).yaml", dataset: "toy", split: "leave-one-out", protocolDescription: protocolText,
            metrics: metrics, cutoffs: [10], baseline: baseline, seeds: seeds, pipelines: pipelines, pipelineComponents: [:],
            points: [ExperimentInfo.Point(label: "base", cells: refs)], comparisons: comparisons)
        let experiment = try store.register(
            experiment: name, specFile: info.specFile, specHash: name, infoJSON: String(decoding: try JSONEncoder().encode(info), as: UTF8.self),
            plan: refs.map { ResultStore.PlannedCell(key: $0.key, pipeline: $0.pipeline, sweepLabel: "base", seed: $0.seed, configHash: $0.key, configJSON: "{}") })
        for ref in refs where !unfinished.contains(ref.pipeline) {
            let values = hits(ref.pipeline, seed: ref.seed)
            let result = ResultStore.CellResult(
                dataFingerprint: "f00d", datasetStatsJSON: "{}", metrics: metrics.map { ($0, 10, values.reduce(0, +) / Double(users)) }, users: (0..<Int32(users)).map { $0 },
                perUser: metrics.map { ($0, 10, values.enumerated().map { $0.offset == undefinedUser ? .nan : $0.element }) },
                timings: [("fit", 1.5), ("evaluate", 0.5)],
                costs: ref.pipeline == "good"
                    ? [("llm_calls", 100), ("prompt_tokens", 50_000), ("generated_tokens", 2_000), ("peak_rss_bytes", 300_000_000)] : [("llm_calls", 0), ("prompt_tokens", 0)],
                curves: ref.pipeline == "good" ? (1...5).map { ("loss", $0, 2 / Double($0)) } : [])
            _ = try store.finish(cell: try store.status(experiment: experiment, cell: ref.key).id, result: result)
        }
    }

    /// Each user's hit of a pipeline's cell: `good` hits 40% of users, the others 20%.
    static func hits(_ pipeline: String, seed: UInt64) -> [Double] {
        let rate = pipeline == "good" ? 0.4 : 0.2
        var rng = SplitMix64(seed: seed &+ UInt64(pipeline.count))
        return (0..<users).map { _ in Double(rng.nextInt(below: 1000)) < rate * 1000 ? 1.0 : 0.0 }
    }

    static func hitRate(_ pipeline: String, seed: UInt64) -> Double { hits(pipeline, seed: seed).reduce(0, +) / Double(users) }

    static func store(_ label: String) throws -> ResultStore {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reclab-report-\(label)-\(getpid())")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try ResultStore(path: folder.appendingPathComponent("r.sqlite").path)
        try add(store, name: "exp-a", pipelines: ["weak", "good"], baseline: "weak")
        try add(store, name: "exp-b", pipelines: ["other"])
        try add(store, name: "exp-c", pipelines: ["sampled"], protocolText: "each held-out item ranked against 100 sampled negatives")
        return store
    }

    @Test func markdownShowsFiguresCostsCurvesAndMDE() throws {
        let rendered = try MarkdownReport.render(store: try Self.store("md"), experiment: "exp-a", figureFolder: "exp-a-figures")
        let names = rendered.figures.map(\.name)
        #expect(names.contains("hr@10.svg") && names.contains("curve-good-loss.svg") && names.contains("cost-hr@10.svg"), "\(names)")
        for figure in rendered.figures {
            #expect(rendered.markdown.contains("(exp-a-figures/\(figure.name))"))
            #expect(XMLParser(data: Data(figure.svg.utf8)).parse(), "\(figure.name)")
        }
        #expect(rendered.markdown.contains("| Δ | MDE | t-test p |"))
        // Over seeds: `good` ahead of `weak` on both seeds, hit rates from the fixture's draws.
        let (good, weak) = ([Self.hitRate("good", seed: 1), Self.hitRate("good", seed: 2)], [Self.hitRate("weak", seed: 1), Self.hitRate("weak", seed: 2)])
        let p = try #require(Significance.pairedTTest(good, weak)?.pValue)
        let delta = (good[0] - weak[0] + good[1] - weak[1]) / 2
        let row = "| good | hr@10 | " + String(format: "%+.4f", delta) + " | 2 of 2 | " + MarkdownReport.pValue(p) + " |"
        #expect(rendered.markdown.contains("## The same comparisons over seeds") && rendered.markdown.contains(row), "\(row)")
        #expect(rendered.markdown.contains("| good | 1.50 | 0.50 | 100 | – | 50,000 | 2,000 | – | 286 |"))
    }

    /// Under leave-one-out each user's recall@10 is their hr@10 (here with one user's value
    /// undefined in both): its tests would repeat hr@10's, so they enter the family once and the
    /// report says why.
    @Test func aMetricWithAnothersPerUserValuesIsTestedOnce() throws {
        let store = try Self.store("twins")
        try Self.add(store, name: "exp-d", pipelines: ["weak", "good"], baseline: "weak", metrics: ["hr", "recall"], undefinedUser: 7)
        let family = try SignificanceFamily(data: try ReportData(store: store, experiment: "exp-d"))
        #expect(family.repeats == [MetricKey("recall", 10): MetricKey("hr", 10)])
        #expect(family.rows.map(\.column) == [MetricKey("hr", 10)])
        #expect(family.differsFromBaseline("good", MetricKey("recall", 10)) == family.differsFromBaseline("good", MetricKey("hr", 10)))
        let markdown = try MarkdownReport.render(store: store, experiment: "exp-d", figureFolder: "f").markdown
        #expect(markdown.contains("Each user's recall@10 is their hr@10, so the tests of recall@10 are those of hr@10 and are not repeated."))
        #expect(markdown.contains("The report's 1 tests of each kind"))
    }

    /// A partly run experiment: a comparison whose cells have not all run is named as waiting,
    /// not printed as an empty table, and the finished pairs are tested as usual.
    @Test func aComparisonWithoutFinishedCellsSaysSo() throws {
        let store = try Self.store("partial")
        try Self.add(store, name: "exp-e", pipelines: ["weak", "good", "late"], baseline: "weak", comparisons: [["late", "good"]], unfinished: ["late"])
        let markdown = try MarkdownReport.render(store: store, experiment: "exp-e", figureFolder: "f").markdown
        let section = try #require(markdown.range(of: "## Paired comparisons\n\n"))
        #expect(markdown[section.upperBound...].hasPrefix("No pair has finished cells on both sides yet (late against good).\n\n"))
        #expect(markdown.contains("| good | hr@10 | "))
        #expect(markdown.contains("The report's 1 tests of each kind"))
    }

    @Test func latexMarksTheBestAndTheSignificant() throws {
        let latex = try ReportExport.latex(try ReportData(store: try Self.store("tex"), experiment: "exp-a"))
        #expect(latex.contains("\\toprule") && latex.contains("\\midrule") && latex.contains("\\bottomrule"))
        let good = try #require(latex.split(separator: "\n").first { $0.hasPrefix("good &") })
        #expect(good.contains("\\textbf{") && good.contains("$^\\dagger$"), "\(good)")
        let weak = try #require(latex.split(separator: "\n").first { $0.hasPrefix("weak &") })
        #expect(!weak.contains("\\textbf{") && !weak.contains("dagger"))
        #expect(ReportExport.escape("a_b & 50%") == "a\\_b \\& 50\\%")
    }

    @Test func csvHasARowPerCellMetricAndSeed() throws {
        let data = try ReportData(store: try Self.store("csv"), experiment: "exp-a")
        let rows = try ReportExport.csv(data).split(separator: "\n")
        #expect(rows.first == "experiment,point,pipeline,seed,metric,k,value")
        #expect(rows.count == 1 + 4)
        #expect(rows.dropFirst().allSatisfy { $0.split(separator: ",").count == 7 })
        let perUser = try ReportExport.perUserCSV(data).split(separator: "\n")
        #expect(perUser.count == 1 + 4 * Self.users)
        #expect(ReportExport.field("a,\"b\"") == "\"a,\"\"b\"\"\"")
    }

    @Test func leaderboardRanksComparableExperimentsAndRefusesOthers() throws {
        let store = try Self.store("compare")
        let a = try ReportData(store: store, experiment: "exp-a"), b = try ReportData(store: store, experiment: "exp-b")
        let rendered = try CompareReport.render([a, b], figureFolder: "lb")
        let firstRow = try #require(rendered.markdown.split(separator: "\n").first { $0.hasPrefix("| 1 |") })
        #expect(firstRow.contains("| exp-a | good |"))
        #expect(rendered.markdown.contains("## Against the leader"))
        #expect(rendered.figures.map(\.name) == ["hr@10.svg", "cost-hr@10.svg"])
        let c = try ReportData(store: store, experiment: "exp-c")
        let error = #expect(throws: RecError.self) { try CompareReport.render([a, c], figureFolder: "lb") }
        #expect(error?.message.contains("not comparable: their evaluation protocols differ") == true, "\(String(describing: error))")
    }
}
