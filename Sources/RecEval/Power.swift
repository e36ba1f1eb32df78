import Foundation

/// The resolution of a paired test: how large a true mean difference it would have detected.
public enum Power {
    /// The minimum detectable effect of a two-sided paired t-test at level `alpha` with power
    /// `power`, from the observed per-user differences: (t₁₋α/₂ + t_power) · s / √n with n − 1
    /// degrees of freedom (the usual approximation to the noncentral t). Nil with fewer than two
    /// pairs; 0 when every difference is the same.
    public static func minimumDetectableEffect(differences d: [Double], alpha: Double = 0.05, power: Double = 0.8) -> Double? {
        let n = d.count
        guard n >= 2 else { return nil }
        let mean = d.reduce(0, +) / Double(n)
        let sd = (d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        let df = Double(n - 1)
        return (tQuantile(1 - alpha / 2, df: df) + tQuantile(power, df: df)) * sd / Double(n).squareRoot()
    }

    /// The `q` quantile (q ≥ 0.5) of Student's t with `df` degrees of freedom, by bisection on
    /// its upper tail P(T > t) = I_{df/(df+t²)}(df/2, 1/2) / 2.
    public static func tQuantile(_ q: Double, df: Double) -> Double {
        precondition(q >= 0.5 && q < 1, "tQuantile takes an upper quantile in [0.5, 1)")
        let tail = 1 - q
        var low = 0.0, high = 1.0
        while upperTail(high, df: df) > tail { high *= 2 }
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if upperTail(mid, df: df) > tail { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    static func upperTail(_ t: Double, df: Double) -> Double {
        Significance.regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5) / 2
    }
}
