import RecCore
import Testing

@testable import RecEval

struct PowerTests {
    /// Against scipy.stats.t.ppf.
    @Test func studentQuantilesMatchTables() {
        #expect(abs(Power.tQuantile(0.975, df: 9) - 2.262157) < 1e-5)
        #expect(abs(Power.tQuantile(0.8, df: 99) - 0.845267) < 1e-5)
        #expect(abs(Power.tQuantile(0.975, df: 1e6) - 1.959966) < 1e-5)
    }

    /// The per-user hr@10 differences of zero-shot-likelihood against sasrec in palr-ml100k
    /// (100 users, each user's value averaged over 3 seeds, so differences are in thirds):
    /// how many users had each difference, from the re-run's results store.
    static let palrDifferences: [Int: Int] = [-3: 6, -2: 4, -1: 7, 0: 71, 1: 6, 2: 5, 3: 1]

    /// The MDE reported beside that comparison is the true shift the t-test detects 80% of the
    /// time: users resampled from the observed differences, re-centred on the MDE, 4,000 times.
    @Test func palrComparisonsMinimumDetectableEffectHasEightyPercentPower() throws {
        let observed = Self.palrDifferences.keys.sorted().flatMap { value in Array(repeating: Double(value) / 3, count: Self.palrDifferences[value]!) }
        #expect(observed.count == 100)
        let mde = try #require(Power.minimumDetectableEffect(differences: observed))
        let mean = observed.reduce(0, +) / Double(observed.count)
        // What the comparison could resolve: larger than the observed |Δ| of 0.047.
        #expect(mde > 0.05 && mde < 0.12, "MDE \(mde)")
        let shifted = observed.map { $0 - mean + mde }
        var rng = SplitMix64(seed: 7)
        let trials = 4000
        var rejected = 0
        for _ in 0..<trials {
            let sample = (0..<observed.count).map { _ in shifted[rng.nextInt(below: shifted.count)] }
            if let p = Significance.pairedTTest(sample, [Double](repeating: 0, count: sample.count))?.pValue, p < 0.05 { rejected += 1 }
        }
        let power = Double(rejected) / Double(trials)
        #expect(abs(power - 0.8) < 0.04, "simulated power \(power) at MDE \(mde)")
        // Half the MDE is detected far less often: the check can fail.
        var rejectedHalf = 0
        for _ in 0..<trials {
            let sample = (0..<observed.count).map { _ in shifted[rng.nextInt(below: shifted.count)] - mde / 2 }
            if let p = Significance.pairedTTest(sample, [Double](repeating: 0, count: sample.count))?.pValue, p < 0.05 { rejectedHalf += 1 }
        }
        #expect(Double(rejectedHalf) / Double(trials) < 0.4)
    }
}

struct SampledCorrectionTests {
    /// A model whose full ranks are known, evaluated with 100 uniformly sampled negatives out of
    /// a pool of 1,000: the corrected estimate lands near the full-ranking metric, far nearer
    /// than the raw sampled figure.
    @Test func correctedSampledMetricsEstimateFullRanking() {
        let pool = 1000, samples = 100
        let keys = [MetricKey("hr", 10), MetricKey("ndcg", 10), MetricKey("mrr", 10)]
        let correction = SampledCorrection(metrics: keys, poolSize: pool, samples: samples)
        var rng = SplitMix64(seed: 11)
        var full = [Double](repeating: 0, count: keys.count), raw = full, corrected = full
        let users = 20_000
        for _ in 0..<users {
            // Full rank: a mixture of good (top 50) and poor (anywhere) predictions.
            let rank = rng.nextInt(below: 4) == 0 ? 1 + rng.nextInt(below: 50) : 1 + rng.nextInt(below: pool)
            // Sample negatives without replacement: count how many of them rank above.
            var chosen = Set<Int>()
            while chosen.count < samples { chosen.insert(rng.nextInt(below: pool - 1)) }
            let above = chosen.filter { $0 < rank - 1 }.count
            for (index, key) in keys.enumerated() {
                full[index] += SampledCorrection.metric(key.name, k: key.k, rank: rank)
                raw[index] += SampledCorrection.metric(key.name, k: key.k, rank: above + 1)
                corrected[index] += correction.value(key, sampledRank: above + 1)!
            }
        }
        for (index, key) in keys.enumerated() {
            let truth = full[index] / Double(users), sampled = raw[index] / Double(users), fixed = corrected[index] / Double(users)
            #expect(abs(fixed - truth) < 0.25 * abs(sampled - truth), "\(key): full \(truth), sampled \(sampled), corrected \(fixed)")
            #expect(abs(fixed - truth) < 0.02, "\(key): full \(truth), corrected \(fixed)")
        }
    }

    @Test func sampledRankDistributionSumsToOne() {
        for rank in [1, 2, 50, 999, 1000] {
            let p = SampledCorrection.sampledRankDistribution(fullRank: rank, poolSize: 1000, samples: 100)
            #expect(abs(p.reduce(0, +) - 1) < 1e-9)
        }
        // The top item is first in every sample; the last is below every sampled negative.
        #expect(SampledCorrection.sampledRankDistribution(fullRank: 1, poolSize: 1000, samples: 100)[0] == 1)
        #expect(abs(SampledCorrection.sampledRankDistribution(fullRank: 1000, poolSize: 1000, samples: 100)[100] - 1) < 1e-12)
    }
}
