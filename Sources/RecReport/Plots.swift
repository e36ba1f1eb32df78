import Foundation

/// A figure of a report: an SVG document, written beside the Markdown under `name` and shown
/// in it as an image.
public struct Figure: Sendable, Equatable {
    /// File name without folder, e.g. `ndcg@10.svg`.
    public var name: String
    /// What the figure shows, for the image's alternative text and its caption.
    public var title: String
    public var svg: String
}

/// The report's chart kinds, drawn with `SVGCanvas`: axes with round ticks, labels, a legend,
/// colour-blind-safe colours.
enum Plot {
    struct Interval {
        var label: String
        var mean: Double, low: Double, high: Double
        /// The palette entry, so a pipeline keeps its colour in every figure of a report.
        var color: Int? = nil
    }

    /// One row per pipeline: its mean as a dot with its interval as a bar, best first.
    static func intervals(title: String, metric: String, rows: [Interval], note: String) -> String {
        let labelWidth = min(300, Double(rows.map(\.label.count).max() ?? 8) * 7 + 16)
        let left = labelWidth + 10, right = 30.0, top = 46.0, rowHeight = 26.0
        let width = max(560, left + 420 + right)
        let height = top + Double(rows.count) * rowHeight + 62
        var canvas = SVGCanvas(width: width, height: height)
        let axis = Axis(covering: rows.flatMap { [$0.low, $0.high, $0.mean] })
        let plotBottom = top + Double(rows.count) * rowHeight
        canvas.text(title, width / 2, 24, size: 15, anchor: .middle, bold: true)
        grid(&canvas, axis: axis, left: left, right: width - right, top: top, bottom: plotBottom, vertical: true)
        for (index, row) in rows.enumerated() {
            let y = top + (Double(index) + 0.5) * rowHeight
            let color = Palette.color(row.color ?? index)
            canvas.text(row.label, left - 10, y + 4, size: 12, anchor: .end)
            let x0 = axis.map(row.low, from: left, to: width - right), x1 = axis.map(row.high, from: left, to: width - right)
            canvas.line(x0, y, x1, y, stroke: color, width: 2.5)
            canvas.line(x0, y - 5, x0, y + 5, stroke: color, width: 1.5)
            canvas.line(x1, y - 5, x1, y + 5, stroke: color, width: 1.5)
            canvas.circle(axis.map(row.mean, from: left, to: width - right), y, r: 4.5, color: color)
        }
        canvas.text(metric, (left + width - right) / 2, plotBottom + 38, size: 13, anchor: .middle)
        canvas.text(note, (left + width - right) / 2, plotBottom + 56, size: 10, anchor: .middle, color: "#555555")
        return canvas.render(title: title)
    }

    struct Series {
        var name: String
        var points: [(x: Double, y: Double, low: Double?, high: Double?)]
        /// The palette entry (default: the series' position).
        var color: Int? = nil
    }

    /// One line per series over a numeric x axis, or over categories (`categories` names the
    /// x positions 0, 1, ...), with intervals as bars where points have them.
    static func lines(title: String, xLabel: String, yLabel: String, series: [Series], categories: [String]? = nil, note: String? = nil) -> String {
        let width = 760.0, height = 430.0, left = 72.0, right = 200.0, top = 46.0, bottom = 64.0
        var canvas = SVGCanvas(width: width, height: height)
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.flatMap { [$0.y, $0.low ?? $0.y, $0.high ?? $0.y] } }
        var xAxis = Axis(covering: xs)
        if let categories {
            xAxis.low = -0.5
            xAxis.high = Double(categories.count) - 0.5
            xAxis.ticks = categories.indices.map(Double.init)
        }
        let yAxis = Axis(covering: ys)
        let plotRight = width - right, plotBottom = height - bottom
        canvas.text(title, (left + plotRight) / 2, 24, size: 15, anchor: .middle, bold: true)
        grid(&canvas, axis: yAxis, left: left, right: plotRight, top: top, bottom: plotBottom, vertical: false)
        let xLabels = categories ?? xAxis.labels
        xAxisLine(&canvas, axis: xAxis, labels: xLabels, title: xLabel, left: left, right: plotRight, bottom: plotBottom)
        canvas.text(yLabel, 18, (top + plotBottom) / 2, size: 13, anchor: .middle, rotate: -90)
        if let note { canvas.text(note, (left + plotRight) / 2, plotBottom + 58, size: 10, anchor: .middle, color: "#555555") }
        let offsetStep = series.count > 1 ? min(6, 40 / Double(series.count)) : 0
        for (index, entry) in series.enumerated() {
            let color = Palette.color(entry.color ?? index)
            let offset = (Double(index) - Double(series.count - 1) / 2) * offsetStep * (categories == nil ? 0 : 1)
            let mapped = entry.points.sorted { $0.x < $1.x }.map {
                (x: xAxis.map($0.x, from: left, to: plotRight) + offset, y: yAxis.map($0.y, from: plotBottom, to: top), point: $0)
            }
            canvas.polyline(mapped.map { ($0.x, $0.y) }, stroke: color, width: 2, dash: Palette.dash(entry.color ?? index))
            for point in mapped {
                if let low = point.point.low, let high = point.point.high {
                    let y0 = yAxis.map(low, from: plotBottom, to: top), y1 = yAxis.map(high, from: plotBottom, to: top)
                    canvas.line(point.x, y0, point.x, y1, stroke: color, width: 1.5)
                    canvas.line(point.x - 4, y0, point.x + 4, y0, stroke: color, width: 1.5)
                    canvas.line(point.x - 4, y1, point.x + 4, y1, stroke: color, width: 1.5)
                }
                canvas.circle(point.x, point.y, r: mapped.count > 40 ? 1.5 : 3.5, color: color)
            }
        }
        legend(&canvas, names: series.map(\.name), colors: series.enumerated().map { $0.element.color ?? $0.offset }, x: plotRight + 16, y: top + 4)
        return canvas.render(title: title)
    }

    struct CostPoint {
        var label: String
        var cost: Double, value: Double
    }

    /// Metric against cost, one dot per pipeline; the Pareto front (no other pipeline is both
    /// cheaper or as cheap and better or as good) joined by a line, its points filled, the
    /// dominated ones hollow.
    static func costScatter(title: String, costLabel: String, metric: String, points: [CostPoint], higherIsBetter: Bool) -> String {
        let width = 760.0, height = 430.0, left = 72.0, right = 200.0, top = 46.0, bottom = 64.0
        var canvas = SVGCanvas(width: width, height: height)
        let xAxis = Axis(covering: points.map(\.cost), includeZero: true), yAxis = Axis(covering: points.map(\.value))
        let plotRight = width - right, plotBottom = height - bottom, inset = 12.0
        canvas.text(title, (left + plotRight) / 2, 24, size: 15, anchor: .middle, bold: true)
        grid(&canvas, axis: yAxis, left: left, right: plotRight, top: top, bottom: plotBottom, vertical: false, inset: inset)
        xAxisLine(&canvas, axis: xAxis, labels: xAxis.labels, title: costLabel, left: left, right: plotRight, bottom: plotBottom, inset: inset)
        canvas.text(metric, 18, (top + plotBottom) / 2, size: 13, anchor: .middle, rotate: -90)
        canvas.text("filled: on the Pareto front (nothing cheaper is as good); hollow: dominated", (left + plotRight) / 2, plotBottom + 58, size: 10, anchor: .middle, color: "#555555")
        let front = paretoFront(points, higherIsBetter: higherIsBetter)
        // Marks sit inside the axes, so a point at zero cost is not drawn over the axis line.
        func x(_ cost: Double) -> Double { xAxis.map(cost, from: left + inset, to: plotRight - inset) }
        func y(_ value: Double) -> Double { yAxis.map(value, from: plotBottom - inset, to: top + inset) }
        canvas.polyline(front.sorted { points[$0].cost < points[$1].cost }.map { (x(points[$0].cost), y(points[$0].value)) }, stroke: "#888888", width: 1.5, dash: "5 3")
        // Points at the same place share one label, names joined.
        var labels: [String: (x: Double, y: Double, names: [String])] = [:]
        for (index, point) in points.enumerated() {
            canvas.circle(x(point.cost), y(point.value), r: 5.5, color: Palette.color(index), hollow: !front.contains(index))
            let place = "\(Int(x(point.cost)))/\(Int(y(point.value)))"
            labels[place, default: (x(point.cost), y(point.value), [])].names.append(point.label)
        }
        for label in labels.values.sorted(by: { ($0.x, $0.y) < ($1.x, $1.y) }) {
            let text = label.names.joined(separator: ", ")
            let flip = label.x > (left + plotRight) / 2
            canvas.text(text.count > 40 ? String(text.prefix(39)) + "…" : text, label.x + (flip ? -9 : 9), label.y - 7, size: 10, anchor: flip ? .end : .start, color: "#333333")
        }
        legend(&canvas, names: points.map(\.label), colors: Array(points.indices), x: plotRight + 16, y: top + 4, hollow: points.indices.map { !front.contains($0) })
        return canvas.render(title: title)
    }

    /// Indices of the points no other point dominates (cost no higher, value no worse, and one
    /// of them strictly better).
    static func paretoFront(_ points: [CostPoint], higherIsBetter: Bool) -> Set<Int> {
        func better(_ a: Double, _ b: Double) -> Bool { higherIsBetter ? a > b : a < b }
        var front = Set<Int>()
        for (i, p) in points.enumerated() {
            let dominated = points.enumerated().contains { j, q in
                j != i && q.cost <= p.cost && !better(p.value, q.value) && (q.cost < p.cost || better(q.value, p.value))
            }
            if !dominated { front.insert(i) }
        }
        return front
    }

    /// Grid lines and tick labels of a value axis: vertical lines for a horizontal axis
    /// (`vertical`), horizontal ones otherwise.
    /// The horizontal axis under a plot: its line, tick marks with `labels`, and its title.
    /// `inset` as for `grid`.
    private static func xAxisLine(
        _ canvas: inout SVGCanvas, axis: Axis, labels: [String], title: String, left: Double, right: Double, bottom: Double, inset: Double = 0
    ) {
        for (tick, label) in zip(axis.ticks, labels) {
            let x = axis.map(tick, from: left + inset, to: right - inset)
            canvas.line(x, bottom, x, bottom + 5, stroke: "#444444")
            canvas.text(label, x, bottom + 19, size: 11, anchor: .middle)
        }
        canvas.line(left, bottom, right, bottom, stroke: "#444444")
        canvas.text(title, (left + right) / 2, bottom + 42, size: 13, anchor: .middle)
    }

    /// `inset` keeps the data off the frame: values map to the frame shrunk by it.
    private static func grid(
        _ canvas: inout SVGCanvas, axis: Axis, left: Double, right: Double, top: Double, bottom: Double, vertical: Bool, inset: Double = 0
    ) {
        for (tick, label) in zip(axis.ticks, axis.labels) {
            if vertical {
                let x = axis.map(tick, from: left + inset, to: right - inset)
                canvas.line(x, top, x, bottom, stroke: "#DDDDDD")
                canvas.text(label, x, bottom + 18, size: 11, anchor: .middle)
            } else {
                let y = axis.map(tick, from: bottom - inset, to: top + inset)
                canvas.line(left, y, right, y, stroke: "#DDDDDD")
                canvas.text(label, left - 6, y + 4, size: 11, anchor: .end)
            }
        }
        if vertical { canvas.line(left, bottom, right, bottom, stroke: "#444444") } else { canvas.line(left, top, left, bottom, stroke: "#444444") }
    }

    private static func legend(_ canvas: inout SVGCanvas, names: [String], colors: [Int], x: Double, y: Double, hollow: [Bool] = []) {
        for (index, name) in names.enumerated() {
            let rowY = y + Double(index) * 20
            let color = Palette.color(colors[index])
            canvas.line(x, rowY + 6, x + 22, rowY + 6, stroke: color, width: 2, dash: Palette.dash(colors[index]))
            canvas.circle(x + 11, rowY + 6, r: 3.5, color: color, hollow: index < hollow.count && hollow[index])
            canvas.text(name.count > 24 ? String(name.prefix(23)) + "…" : name, x + 28, rowY + 10, size: 11)
        }
    }
}
