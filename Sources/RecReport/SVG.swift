import Foundation

/// A small SVG writer: absolute coordinates in pixels, text escaped, numbers printed with
/// fixed precision so the same figure is the same bytes on every machine.
struct SVGCanvas {
    let width: Double, height: Double
    private var elements: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    static let font = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        elements.append(
            "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, stroke: String? = nil) {
        elements.append("<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"\(fill)\"\(stroke.map { " stroke=\"\($0)\"" } ?? "")/>")
    }

    /// A marker: a filled circle, or a hollow one when `hollow`.
    mutating func circle(_ x: Double, _ y: Double, r: Double, color: String, hollow: Bool = false) {
        let paint = hollow ? "fill=\"white\" stroke=\"\(color)\" stroke-width=\"1.5\"" : "fill=\"\(color)\""
        elements.append("<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"\(n(r))\" \(paint)/>")
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2, dash: String? = nil) {
        guard points.count > 1 else { return }
        let list = points.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ")
        elements.append(
            "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(
        _ string: String, _ x: Double, _ y: Double, size: Double = 12, anchor: Anchor = .start, bold: Bool = false, color: String = "#222222",
        rotate: Double? = nil
    ) {
        let transform = rotate.map { " transform=\"rotate(\(n($0)) \(n(x)) \(n(y)))\"" } ?? ""
        elements.append(
            "<text x=\"\(n(x))\" y=\"\(n(y))\" font-family=\"\(Self.font)\" font-size=\"\(n(size))\" text-anchor=\"\(anchor.rawValue)\" fill=\"\(color)\"\(bold ? " font-weight=\"bold\"" : "")\(transform)>\(Self.escape(string))</text>"
        )
    }

    func render(title: String) -> String {
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\">\n"
        out += "<title>\(Self.escape(title))</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"white\"/>\n"
        return out + elements.joined(separator: "\n") + "\n</svg>\n"
    }

    /// XML text: the five special characters as entities, control characters as spaces.
    static func escape(_ string: String) -> String {
        var out = ""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case _ where scalar.properties.generalCategory == .control: out += " "
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private func n(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.2f", rounded)
    }
}

/// Colours that stay apart for the common forms of colour blindness (Okabe and Ito, 2008),
/// black last.
enum Palette {
    static let colors = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
    /// Dash patterns that tell series apart once the colours repeat.
    static let dashes: [String?] = [nil, "6 3", "2 2", "8 3 2 3"]

    static func color(_ index: Int) -> String { colors[index % colors.count] }
    static func dash(_ index: Int) -> String? { dashes[(index / colors.count) % dashes.count] }
}

/// A linear axis: the data range widened to round tick values.
struct Axis {
    var low: Double, high: Double
    var ticks: [Double]

    /// About `count` ticks at 1, 2 or 5 times a power of ten covering `values`.
    init(covering values: [Double], count: Int = 5, includeZero: Bool = false) {
        var lo = values.filter(\.isFinite).min() ?? 0, hi = values.filter(\.isFinite).max() ?? 1
        if includeZero { lo = min(lo, 0) }
        if hi - lo < 1e-12 {
            let pad = abs(hi) > 1e-12 ? abs(hi) * 0.1 : 1
            lo -= pad
            hi += pad
        }
        let raw = (hi - lo) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        low = floor(lo / step) * step
        high = ceil(hi / step) * step
        var ticks: [Double] = []
        var tick = low
        while tick <= high + step * 1e-6 {
            ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        self.ticks = ticks
    }

    /// `value`'s position between `from` (low) and `to` (high), in pixels.
    func map(_ value: Double, from: Double, to: Double) -> Double {
        from + (value - low) / (high - low) * (to - from)
    }

    /// Tick labels with as many decimals as the step needs, the same for every tick.
    var labels: [String] {
        guard ticks.count > 1 else { return ticks.map { Self.format($0, decimals: 2) } }
        let step = ticks[1] - ticks[0]
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return ticks.map { Self.format($0, decimals: decimals) }
    }

    static func format(_ value: Double, decimals: Int) -> String {
        if abs(value) >= 1e4 && abs(value) < 1e9 && decimals == 0 {
            return (value < 0 ? "-" : "") + MarkdownReport.grouped(Int(abs(value).rounded()))
        }
        if abs(value) >= 1e9 && decimals == 0 {
            let exponent = Int(floor(log10(abs(value))))
            return String(format: "%.1fe%d", value / pow(10, Double(exponent)), exponent)
        }
        return String(format: "%.\(decimals)f", value)
    }
}
