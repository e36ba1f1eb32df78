import Foundation
import RecCore
import Testing

@testable import RecTensor

/// The straight-through estimator, the VQ-VAE loss terms, the summed reconstruction error,
/// cross-attention (fewer queries than keys) and k-means.
struct QuantizationTests {
    /// Stop-gradient ops have no finite-difference derivative of their own value, so each is
    /// checked against the surrogate its gradient is defined by: the straight-through output
    /// against `z + c` with `c = q − z` frozen at the point, and each side of the VQ loss
    /// against the one term that side receives a gradient from.
    @Test func straightThroughAndVectorQuantizationGradients() {
        var rng = SplitMix64(seed: 5)
        let q = Tensor(shape: [3, 4], data: (0..<12).map { _ in Float(rng.nextGaussian()) })
        let z0 = (0..<12).map { _ in Float(rng.nextGaussian()) }
        // The values forward are q's; the gradient reaching z is the output's.
        let z = Tensor(shape: [3, 4], data: z0, requiresGrad: true)
        let straight = z.straightThrough(q)
        #expect(straight.data == q.data)
        // Against `z ↦ z + c` for a constant c = quantized − z: the same values, and the
        // derivative the estimator stands for.
        let offset = (0..<12).map { _ in Float(rng.nextGaussian()) }
        checkGradients([[3, 4]]) { t in
            let quantized = Tensor(shape: [3, 4], data: zip(t[0].data, offset).map { $0 + $1 })
            return t[0].requiresGrad ? t[0].straightThrough(quantized) : quantized
        }
        let codebook = Tensor(shape: [3, 4], data: q.data, requiresGrad: true)
        let zz = Tensor(shape: [3, 4], data: z0, requiresGrad: true)
        let beta: Float = 0.25
        let loss = Loss.vectorQuantization(zz, codebook, beta: beta)
        let squared = zip(z0, q.data).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        #expect(abs(Double(loss.item) - squared * 1.25 / 3) < 1e-5)
        loss.backward()
        // z receives β's share only: d/dz β Σ(z − q)² / N; q the codebook term's: d/dq Σ(z − q)² / N.
        // Each side against the term it is differentiated through (the analytic pass runs the
        // op; the finite differences, which run without gradients, the term).
        checkGradients([[3, 4]]) { t in
            t[0].requiresGrad ? Loss.vectorQuantization(t[0], q.detached(), beta: beta) : Loss.summedSquaredError(t[0], target: q.data) * beta
        }
        for i in 0..<12 {
            #expect(abs(zz.grad![i] - 2 * beta * (z0[i] - q.data[i]) / 3) < 1e-6)
            #expect(abs(codebook.grad![i] - 2 * (q.data[i] - z0[i]) / 3) < 1e-6)
        }
        checkGradients([[3, 4]]) { t in
            t[0].requiresGrad ? Loss.vectorQuantization(Tensor(shape: [3, 4], data: z0), t[0], beta: beta) : Loss.summedSquaredError(t[0], target: z0)
        }
        let target = (0..<12).map { Float($0) / 7 }
        checkGradients([[3, 4]]) { t in Loss.summedSquaredError(t[0], target: target) }
    }

    /// Cross-attention: 2 decoder queries over 5 encoder keys, with padded keys.
    @Test func crossAttentionGradients() {
        var rng = SplitMix64(seed: 3)
        checkGradients([[2, 2, 6], [2, 5, 6], [2, 5, 6]]) { t in
            Tensor.attention(q: t[0], k: t[1], v: t[2], heads: 2, causal: false, keyPadding: [[false, false, false, true, true], [false, false, false, false, false]], rng: &rng)
        }
    }

    /// Assignments equal a brute-force search; well separated clusters are recovered whatever
    /// the seed; k equal to the points makes every point its own centroid.
    @Test func kMeansFindsSeparatedClusters() {
        var rng = SplitMix64(seed: 11)
        let centres: [[Float]] = [[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]]
        var points: [Float] = [], truth: [Int] = []
        for i in 0..<200 {
            let c = i % 4
            truth.append(c)
            points += centres[c].map { $0 + Float(rng.nextGaussian()) * 0.5 }
        }
        for seed in [1, 2, 3] as [UInt64] {
            var local = SplitMix64(seed: seed)
            let centroids = KMeans.fit(points, d: 3, k: 4, iterations: 20, rng: &local)
            let (nearest, distances) = KMeans.assign(points, d: 3, centroids: centroids, k: 4)
            for point in 0..<200 {
                let brute = (0..<4).map { c in (0..<3).reduce(Float(0)) { $0 + pow(points[point * 3 + $1] - centroids[c * 3 + $1], 2) } }
                #expect(Int(nearest[point]) == brute.firstIndex(of: brute.min()!)!)
                #expect(abs(distances[point] - brute.min()!) < 1e-3)
            }
            // One centroid per true cluster: points of a cluster share their nearest centroid.
            for c in 0..<4 { #expect(Set(truth.indices.filter { truth[$0] == c }.map { nearest[$0] }).count == 1) }
            #expect(Set(nearest).count == 4)
        }
        var local = SplitMix64(seed: 1)
        let all = KMeans.fit(Array(points.prefix(30)), d: 3, k: 10, iterations: 10, rng: &local)
        #expect(KMeans.assign(Array(points.prefix(30)), d: 3, centroids: all, k: 10).distances.allSatisfy { $0 < 1e-4 })
    }
}
