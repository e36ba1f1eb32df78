import RecCore

/// Corrections for a family of significance tests, and bootstrap intervals for means.
public enum MultipleComparisons {
    public enum Method: String, Sendable, Codable, CaseIterable {
        /// Holm's step-down procedure: controls the family-wise error rate.
        case holm
        /// Benjamini-Hochberg: controls the false discovery rate.
        case bh
        /// No correction (each test at its own level).
        case none
    }

    /// Adjusted p-values, in the order given: a test survives at level α when its adjusted
    /// p-value is below α.
    public static func adjust(_ pValues: [Double], method: Method) -> [Double] {
        let m = pValues.count
        guard m > 0 else { return [] }
        switch method {
        case .none:
            return pValues
        case .holm:
            // p_(i) · (m − i + 1), made non-decreasing in rank, capped at 1.
            let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
            var adjusted = [Double](repeating: 1, count: m)
            var running = 0.0
            for (rank, index) in order.enumerated() {
                running = max(running, min(1, pValues[index] * Double(m - rank)))
                adjusted[index] = running
            }
            return adjusted
        case .bh:
            // p_(i) · m / i, made non-increasing from the largest rank down, capped at 1.
            let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
            var adjusted = [Double](repeating: 1, count: m)
            var running = 1.0
            for rank in stride(from: m - 1, through: 0, by: -1) {
                let index = order[rank]
                running = min(running, pValues[index] * Double(m) / Double(rank + 1))
                adjusted[index] = min(1, running)
            }
            return adjusted
        }
    }

    /// Percentile bootstrap interval of the mean of `values`: `draws` resamples with
    /// replacement from a seeded generator, the (1 − level)/2 and (1 + level)/2 quantiles.
    public static func bootstrapMean(_ values: [Double], draws: Int = 1000, level: Double = 0.95, seed: UInt64 = 2020) -> (low: Double, high: Double)? {
        guard values.count >= 2, draws > 0 else { return nil }
        var rng = SplitMix64(seed: seed)
        var means = [Double](repeating: 0, count: draws)
        let n = values.count
        for draw in 0..<draws {
            var sum = 0.0
            for _ in 0..<n { sum += values[rng.nextInt(below: n)] }
            means[draw] = sum / Double(n)
        }
        means.sort()
        func quantile(_ q: Double) -> Double {
            let position = q * Double(draws - 1)
            let lower = Int(position.rounded(.down)), upper = min(draws - 1, lower + 1)
            return means[lower] + (means[upper] - means[lower]) * (position - Double(lower))
        }
        return (quantile((1 - level) / 2), quantile((1 + level) / 2))
    }
}
