import COpenBLAS
import Foundation
import RecCore

/// Lloyd's k-means over the rows of a row-major `[n, d]` matrix, seeded: k-means++ seeding,
/// then `iterations` rounds of assigning every point to its nearest centroid and moving each
/// centroid to its points' mean. Distances come from one sgemm per block of points
/// (`‖x‖² − 2 x·c + ‖c‖²`).
public enum KMeans {
    /// Points per sgemm block: bounds the distance block to 4096 × k floats.
    static let blockRows = 4096

    /// The nearest of the `k` centroids (`[k, d]`) for every point, and its squared distance.
    public static func assign(_ points: [Float], d: Int, centroids: [Float], k: Int) -> (nearest: [Int32], distances: [Float]) {
        let n = points.count / d
        var nearest = [Int32](repeating: 0, count: n), distances = [Float](repeating: 0, count: n)
        let centroidNorms = (0..<k).map { c in (0..<d).reduce(Float(0)) { $0 + centroids[c * d + $1] * centroids[c * d + $1] } }
        var block = [Float](repeating: 0, count: min(n, blockRows) * k)
        for start in stride(from: 0, to: n, by: blockRows) {
            let rows = min(blockRows, n - start)
            points.withUnsafeBufferPointer { x in
                centroids.withUnsafeBufferPointer { c in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(k), Int32(d), -2, x.baseAddress! + start * d, Int32(d), c.baseAddress, Int32(d), 0,
                        &block, Int32(k))
                }
            }
            for row in 0..<rows {
                let point = start + row
                var norm: Float = 0
                for j in 0..<d { norm += points[point * d + j] * points[point * d + j] }
                var best = 0, bestDistance = Float.infinity
                for c in 0..<k {
                    let distance = block[row * k + c] + centroidNorms[c]
                    if distance < bestDistance { (best, bestDistance) = (c, distance) }
                }
                nearest[point] = Int32(best)
                distances[point] = max(0, bestDistance + norm)
            }
        }
        return (nearest, distances)
    }

    /// `k` centroids `[k, d]` for the `n = points.count / d` points (k ≤ n).
    public static func fit(_ points: [Float], d: Int, k: Int, iterations: Int, rng: inout SplitMix64) -> [Float] {
        let n = points.count / d
        precondition(k >= 1 && k <= n, "k-means needs 1 ≤ k ≤ points, got k = \(k) for \(n) points")
        var centroids = seed(points, d: d, k: k, rng: &rng)
        for _ in 0..<iterations {
            let (nearest, distances) = assign(points, d: d, centroids: centroids, k: k)
            var sums = [Double](repeating: 0, count: k * d), sizes = [Int](repeating: 0, count: k)
            for point in 0..<n {
                let c = Int(nearest[point])
                sizes[c] += 1
                for j in 0..<d { sums[c * d + j] += Double(points[point * d + j]) }
            }
            // An empty cluster takes the point farthest from its centroid (each point once).
            var far = Array(0..<n).sorted { distances[$0] > distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }.makeIterator()
            var moved = false
            for c in 0..<k {
                if sizes[c] == 0 {
                    guard let point = far.next() else { continue }
                    for j in 0..<d { centroids[c * d + j] = points[point * d + j] }
                    moved = true
                    continue
                }
                for j in 0..<d {
                    let mean = Float(sums[c * d + j] / Double(sizes[c]))
                    if mean != centroids[c * d + j] { moved = true }
                    centroids[c * d + j] = mean
                }
            }
            if !moved { break }
        }
        return centroids
    }

    /// Residual k-means: `levels` rounds of k-means, each on what the centroids of the rounds
    /// before leave of the points. Returns each level's centroids `[k, d]` and each level's
    /// nearest centroid per point.
    public static func residual(
        _ points: [Float], d: Int, k: Int, levels: Int, iterations: Int, rng: inout SplitMix64
    ) -> (centroids: [[Float]], nearest: [[Int32]]) {
        var residual = points
        var centroids: [[Float]] = [], nearest: [[Int32]] = []
        for _ in 0..<levels {
            let level = fit(residual, d: d, k: k, iterations: iterations, rng: &rng)
            let codes = assign(residual, d: d, centroids: level, k: k).nearest
            for (row, code) in codes.enumerated() {
                for j in 0..<d { residual[row * d + j] -= level[Int(code) * d + j] }
            }
            centroids.append(level)
            nearest.append(codes)
        }
        return (centroids, nearest)
    }

    /// k-means++: the first centroid uniformly, each next one with probability proportional to
    /// its squared distance from the nearest centroid chosen so far.
    static func seed(_ points: [Float], d: Int, k: Int, rng: inout SplitMix64) -> [Float] {
        let n = points.count / d
        var chosen = [Int(rng.next() % UInt64(n))]
        var nearest = [Double](repeating: .infinity, count: n)
        while chosen.count < k {
            let last = chosen[chosen.count - 1]
            var total = 0.0
            for point in 0..<n {
                var distance = 0.0
                for j in 0..<d {
                    let difference = Double(points[point * d + j] - points[last * d + j])
                    distance += difference * difference
                }
                nearest[point] = min(nearest[point], distance)
                total += nearest[point]
            }
            // All remaining points coincide with a centroid: take the next unchosen one.
            guard total > 0 else {
                chosen.append((0..<n).first { !chosen.contains($0) }!)
                continue
            }
            var target = Double(rng.next() >> 11) / Double(1 << 53) * total
            var pick = (0..<n).last { nearest[$0] > 0 }!
            for point in 0..<n {
                target -= nearest[point]
                if target < 0 {
                    pick = point
                    break
                }
            }
            chosen.append(pick)
        }
        return chosen.flatMap { Array(points[($0 * d)..<($0 * d + d)]) }
    }
}
