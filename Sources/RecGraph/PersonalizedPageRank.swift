import COpenBLAS
import RecCore

/// Personalized PageRank on a weighted undirected graph by power iteration, in double
/// precision, for many sources at once (one `dgemm` per iteration).
///
/// A walk from source `s` follows an edge with probability proportional to its weight and jumps
/// back to `s` with probability `1 − damping`; a node without edges sends its whole mass back
/// to `s`. This is networkx's `pagerank(G, alpha: damping, personalization: {s: 1})`, whose
/// dangling nodes default to the personalization vector. Iteration stops when a source's
/// vector moves by less than `tolerance` in L1, or after `maxIterations`.
public struct PersonalizedPageRank: Sendable {
    public let nodeCount: Int
    public let damping: Double
    public let tolerance: Double
    public let maxIterations: Int
    /// `P [n, n]`, row-major: each node's out-weights over its total (zero rows for nodes
    /// without edges).
    private let transition: [Double]
    private let dangling: [Bool]

    /// `weights [n, n]` row-major and symmetric; the diagonal is ignored, negative or
    /// non-finite weights are refused.
    public init(weights: [Double], nodeCount n: Int, damping: Double = 0.85, tolerance: Double = 1e-12, maxIterations: Int = 1000) throws {
        guard weights.count == n * n else { throw RecError(.plugin, "PageRank: \(weights.count) weights for \(n) nodes") }
        guard (0..<1).contains(damping) else { throw RecError(.plugin, "PageRank: damping \(damping) is outside [0, 1)") }
        guard weights.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw RecError(.plugin, "PageRank: edge weights must be finite and non-negative") }
        nodeCount = n
        self.damping = damping
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        var transition = weights, dangling = [Bool](repeating: false, count: n)
        for i in 0..<n {
            transition[i * n + i] = 0
            var total = 0.0
            for j in 0..<n { total += transition[i * n + j] }
            dangling[i] = total == 0
            if total > 0 { for j in 0..<n { transition[i * n + j] /= total } }
        }
        self.transition = transition
        self.dangling = dangling
    }

    /// The PageRank vector of each source, in order: `result[r][j]` is the probability of
    /// node `j` for a walk restarting at `sources[r]`. Each vector sums to 1.
    public func scores(from sources: [Int]) -> [[Double]] {
        let n = nodeCount, k = sources.count
        guard k > 0, n > 0 else { return sources.map { _ in [] } }
        var x = [Double](repeating: 0, count: k * n)
        for (r, s) in sources.enumerated() { x[r * n + s] = 1 }
        var next = [Double](repeating: 0, count: k * n)
        var active = [Bool](repeating: true, count: k)
        for _ in 0..<maxIterations {
            // next = damping · x P
            x.withUnsafeBufferPointer { xp in
                transition.withUnsafeBufferPointer { pp in
                    next.withUnsafeMutableBufferPointer { np in
                        cblas_dgemm(
                            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(k), Int32(n), Int32(n), damping, xp.baseAddress!, Int32(n), pp.baseAddress!, Int32(n), 0,
                            np.baseAddress!, Int32(n))
                    }
                }
            }
            var moving = false
            for r in 0..<k where active[r] {
                // The jump back, and the mass of nodes without edges, go to the source.
                var stranded = 0.0
                for j in 0..<n where dangling[j] { stranded += x[r * n + j] }
                next[r * n + sources[r]] += (1 - damping) + damping * stranded
                var change = 0.0
                for j in 0..<n { change += abs(next[r * n + j] - x[r * n + j]) }
                if change < tolerance { active[r] = false } else { moving = true }
            }
            // Converged sources keep their vector.
            for r in 0..<k where !active[r] { for j in 0..<n { next[r * n + j] = x[r * n + j] } }
            swap(&x, &next)
            if !moving { break }
        }
        return (0..<k).map { Array(x[$0 * n..<($0 + 1) * n]) }
    }

    /// The `count` nodes with the highest scores from `source`, the source itself and nodes
    /// with no probability left out, highest first (ties by node number).
    ///
    /// Scores are compared on a grid of `resolution`, and nodes in the same cell of the grid
    /// tie. Nodes that the graph cannot tell apart (the same neighbours with the same weights)
    /// have the same true score, but their computed scores can differ in the last bits, and
    /// which one comes out higher depends on where each sits in the BLAS kernel's blocks, so on
    /// the CPU and on how many sources a product carries. Pass the iteration's tolerance: the
    /// scores are not known more closely than that anyway. Zero compares the scores exactly.
    public static func top(_ scores: [Double], count: Int, excluding source: Int, resolution: Double) -> [Int] {
        let grid = resolution > 0 ? scores.map { ($0 / resolution).rounded() } : scores
        return scores.indices.filter { $0 != source && scores[$0] > 0 }.sorted { (grid[$0], -$0) > (grid[$1], -$1) }.prefix(count).map { $0 }
    }
}
