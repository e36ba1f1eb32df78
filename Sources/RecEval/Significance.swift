import Foundation

/// Paired significance tests on per-user values.
public enum Significance {
    public struct Result: Sendable, Equatable {
        public var statistic: Double
        public var pValue: Double
        public var n: Int
    }

    /// Two-sided paired t-test of `a - b`. Returns nil with fewer than two pairs; p = 1 when every
    /// difference is zero, p = 0 when they are all equal and non-zero.
    public static func pairedTTest(_ a: [Double], _ b: [Double]) -> Result? {
        precondition(a.count == b.count, "paired samples must have the same length")
        let d = zip(a, b).map { $0 - $1 }
        let n = d.count
        guard n >= 2 else { return nil }
        let mean = d.reduce(0, +) / Double(n)
        let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        if variance == 0 { return Result(statistic: mean == 0 ? 0 : .infinity, pValue: mean == 0 ? 1 : 0, n: n) }
        let t = mean / (variance / Double(n)).squareRoot()
        let df = Double(n - 1)
        let p = regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5)
        return Result(statistic: t, pValue: min(1, max(0, p)), n: n)
    }

    /// Two-sided Wilcoxon signed-rank test of `a - b`: zero differences dropped (scipy's
    /// `zero_method="wilcox"`), average ranks for ties, normal approximation with tie correction
    /// and no continuity correction. Returns nil when no difference is non-zero.
    public static func wilcoxon(_ a: [Double], _ b: [Double]) -> Result? {
        precondition(a.count == b.count, "paired samples must have the same length")
        let d = zip(a, b).map { $0 - $1 }.filter { $0 != 0 }
        let n = d.count
        guard n > 0 else { return nil }
        let order = d.indices.sorted { abs(d[$0]) < abs(d[$1]) }
        var ranks = [Double](repeating: 0, count: n)
        var tieCorrection = 0.0
        var i = 0
        while i < n {
            var j = i
            while j + 1 < n && abs(d[order[j + 1]]) == abs(d[order[i]]) { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = rank }
            let t = Double(j - i + 1)
            tieCorrection += t * t * t - t
            i = j + 1
        }
        let wPlus = d.indices.reduce(0.0) { $0 + (d[$1] > 0 ? ranks[$1] : 0) }
        let nn = Double(n)
        let mean = nn * (nn + 1) / 4
        let twice: Double = 2 * nn + 1
        let product: Double = nn * (nn + 1) * twice
        let raw: Double = product / 24
        let variance: Double = raw - tieCorrection / 48
        guard variance > 0 else { return Result(statistic: wPlus, pValue: 1, n: n) }
        let z = (wPlus - mean) / variance.squareRoot()
        return Result(statistic: wPlus, pValue: min(1, erfc(abs(z) / 2.0.squareRoot())), n: n)
    }

    /// A one-sided paired test that `a` is worse than `b` by less than `margin`
    /// (non-inferiority). Each pair's worsening is `a - b` for a metric where lower is better and
    /// `b - a` where higher is; the null hypothesis is a mean worsening of `margin` or more,
    /// rejected by a paired t-test when the mean is far enough below it. `upper` is the
    /// one-sided 95% upper confidence bound of the mean worsening, so p < 0.05 exactly when
    /// `upper < margin`. Returns nil with fewer than two pairs.
    public static func nonInferiority(_ a: [Double], _ b: [Double], margin: Double, higherIsBetter: Bool) -> NonInferiority? {
        precondition(a.count == b.count, "paired samples must have the same length")
        let d = zip(a, b).map { higherIsBetter ? $1 - $0 : $0 - $1 }
        let n = d.count
        guard n >= 2 else { return nil }
        let mean = d.reduce(0, +) / Double(n)
        let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let standardError = (variance / Double(n)).squareRoot()
        let df = Double(n - 1)
        if standardError == 0 { return NonInferiority(worsening: mean, upper: mean, pValue: mean < margin ? 0 : 1, n: n) }
        let t = (mean - margin) / standardError
        return NonInferiority(
            worsening: mean, upper: mean + studentQuantile(0.95, df: df) * standardError, pValue: min(1, max(0, studentCDF(t, df: df))), n: n)
    }

    public struct NonInferiority: Sendable, Equatable {
        /// The mean per-pair worsening of `a` against `b` (negative: `a` is better).
        public var worsening: Double
        /// Its one-sided 95% upper confidence bound.
        public var upper: Double
        public var pValue: Double
        public var n: Int
    }

    /// P(T <= t) for Student's t with `df` degrees of freedom.
    static func studentCDF(_ t: Double, df: Double) -> Double {
        let tail = regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5) / 2
        return t < 0 ? tail : 1 - tail
    }

    /// The `p` quantile of Student's t with `df` degrees of freedom, by bisection on the CDF.
    static func studentQuantile(_ p: Double, df: Double) -> Double {
        var low = -1e4, high = 1e4
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if studentCDF(middle, df: df) < p { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// I_x(a, b) by Lentz's continued fraction (Numerical Recipes, 6.4).
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logGammas + logPowers
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * continuedFraction(x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * continuedFraction(1 - x, a: b, b: a) / b
    }

    private static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m)
            let m2 = 2 * m
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-14 { break }
        }
        return h
    }
}
