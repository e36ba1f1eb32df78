import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

@testable import RecReport

/// Every kind of report figure is well-formed SVG and draws something through a real renderer
/// (rsvg-convert, installed by scripts/setup.sh).
struct FigureTests {
    static let kinds: [(name: String, svg: String)] = [
        (
            "intervals",
            Plot.intervals(
                title: "hr@10 per pipeline", metric: "hr@10",
                rows: [
                    Plot.Interval(label: "sasrec", mean: 0.21, low: 0.18, high: 0.24), Plot.Interval(label: "ease & <friends>", mean: 0.15, low: 0.12, high: 0.17),
                    Plot.Interval(label: "popularity", mean: 0.05, low: 0.03, high: 0.07),
                ], note: "dot: mean")
        ),
        (
            "sweep",
            Plot.lines(
                title: "ndcg@10 across l2", xLabel: "ease.retriever.l2", yLabel: "ndcg@10",
                series: [
                    Plot.Series(name: "ease", points: [(0, 0.065, 0.06, 0.07), (1, 0.069, 0.064, 0.074), (2, 0.068, 0.063, 0.073)]),
                    Plot.Series(name: "ease-b", points: [(0, 0.055, 0.05, 0.06), (1, 0.059, 0.054, 0.064), (2, 0.058, 0.053, 0.063)]),
                ], categories: ["50", "250", "1000"])
        ),
        (
            "curve",
            Plot.lines(
                title: "sasrec: loss per epoch", xLabel: "epoch", yLabel: "loss",
                series: (1...3).map { seed in Plot.Series(name: "seed \(seed)", points: (1...20).map { (Double($0), 7 / Double($0 + seed), nil, nil) }) })
        ),
        (
            "cost",
            Plot.costScatter(
                title: "hr@10 against LLM tokens", costLabel: "tokens", metric: "hr@10",
                points: [
                    Plot.CostPoint(label: "sasrec", cost: 0, value: 0.11), Plot.CostPoint(label: "palr", cost: 160_000, value: 0.15),
                    Plot.CostPoint(label: "zero-shot", cost: 90_000, value: 0.09),
                ], higherIsBetter: true)
        ),
    ]

    @Test(arguments: kinds.indices) func figureRendersToANonBlankPNG(index: Int) throws {
        let (name, svg) = Self.kinds[index]
        // Well-formed XML, as a browser needs it.
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(name): \(parser.parserError.map { "\($0)" } ?? "")")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reclab-figures-\(getpid())-\(name)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let input = folder.appendingPathComponent("\(name).svg"), output = folder.appendingPathComponent("\(name).png")
        try Data(svg.utf8).write(to: input)
        let tool = "/usr/bin/rsvg-convert"
        try #require(FileManager.default.isExecutableFile(atPath: tool), "rsvg-convert is missing: run scripts/setup.sh (it installs librsvg2-bin)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = [input.path, "-o", output.path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let image = try PNGImage(Array(try Data(contentsOf: output)))
        #expect(image.width > 400 && image.height > 150)
        // Axes, text and marks cover a real share of the picture, in several colours.
        #expect(Double(image.inkedPixels) > 0.01 * Double(image.width * image.height), "\(name): \(image.inkedPixels) inked pixels")
        #expect(image.inkColours >= 4, "\(name): \(image.inkColours) colours")
        // The data marks are drawn: the first series' colour covers more than its legend entry.
        #expect(image.pixels(near: (0x00, 0x72, 0xB2)) > 100, "\(name): \(image.pixels(near: (0x00, 0x72, 0xB2))) pixels of the first colour")
        try? FileManager.default.removeItem(at: folder)
    }

    @Test func blankCanvasHasNoInk() throws {
        // The check above can fail: a figure with nothing drawn is white.
        let svg = SVGCanvas(width: 500, height: 200).render(title: "empty")
        let folder = FileManager.default.temporaryDirectory
        let input = folder.appendingPathComponent("reclab-blank-\(getpid()).svg"), output = folder.appendingPathComponent("reclab-blank-\(getpid()).png")
        try Data(svg.utf8).write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/rsvg-convert")
        process.arguments = [input.path, "-o", output.path]
        try process.run()
        process.waitUntilExit()
        #expect(try PNGImage(Array(try Data(contentsOf: output))).inkedPixels == 0)
        try? FileManager.default.removeItem(at: input)
        try? FileManager.default.removeItem(at: output)
    }

    @Test func paretoFrontKeepsWhatNothingCheaperBeats() {
        let points = [
            Plot.CostPoint(label: "free", cost: 0, value: 0.10), Plot.CostPoint(label: "better", cost: 100, value: 0.15),
            Plot.CostPoint(label: "dominated", cost: 150, value: 0.12), Plot.CostPoint(label: "best", cost: 300, value: 0.20),
            Plot.CostPoint(label: "tie-dearer", cost: 120, value: 0.15),
        ]
        #expect(Plot.paretoFront(points, higherIsBetter: true) == [0, 1, 3])
        #expect(Plot.paretoFront(points, higherIsBetter: false) == [0])
    }

    @Test func axisTicksAreRoundAndCoverTheData() {
        let axis = Axis(covering: [0.0123, 0.2371])
        #expect(axis.low <= 0.0123 && axis.high >= 0.2371)
        #expect(axis.ticks.count >= 3 && axis.ticks.count <= 8)
        #expect(axis.labels.first == "0.00")
        let flat = Axis(covering: [5, 5])
        #expect(flat.low < 5 && flat.high > 5)
        #expect(SVGCanvas.escape("a<b & \"c\"") == "a&lt;b &amp; &quot;c&quot;")
    }
}
