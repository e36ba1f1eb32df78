import COpenBLAS
import Foundation
import RecCore

/// Matrix factorisation trained with Bayesian Personalized Ranking.
///
/// **Paper:** Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback",
/// UAI 2009 (LearnBPR: SGD over bootstrapped (u, i, j) triples).
///
/// Per triple, with `x = p_u · (q_i - q_j)` and `g = σ(-x)` (the derivative of `ln σ(x)`):
/// `p_u += lr (g (q_i - q_j) - reg p_u)`, `q_i += lr (g p_u - reg q_i)`,
/// `q_j += lr (-g p_u - reg q_j)`. The gradients are derived by hand and checked against finite
/// differences in BaselinesTests.
///
/// **Deviations:** no item bias (as RecBole's BPR); one epoch draws as many triples as there are
/// training interactions; negatives are uniform over items the user has not interacted with.
///
/// ```yaml
/// retriever: { type: bprmf, factors: 64, epochs: 30, learning_rate: 0.05, regularization: 0.001 }
/// ```
public struct BPRMF: Retriever, Trainable, Checkpointable {
    public struct Configuration: Codable, Sendable, Equatable {
        public var factors: Int = 64
        public var epochs: Int = 30
        public var learningRate: Double = 0.05
        public var regularization: Double = 0.001
        /// Standard deviation of the Gaussian initialisation.
        public var initStd: Double = 0.1

        enum CodingKeys: String, CodingKey, CaseIterable { case factors, epochs, learningRate, regularization, initStd }

        public init(factors: Int = 64, epochs: Int = 30, learningRate: Double = 0.05, regularization: Double = 0.001, initStd: Double = 0.1) {
            self.factors = factors
            self.epochs = epochs
            self.learningRate = learningRate
            self.regularization = regularization
            self.initStd = initStd
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            factors = try c.decode(.factors, default: 64, in: 1...4096)
            epochs = try c.decode(.epochs, default: 30, in: 0...100_000)
            learningRate = try c.decode(.learningRate, default: 0.05, in: 1e-9...100)
            regularization = try c.decode(.regularization, default: 0.001, in: 0...100)
            initStd = try c.decode(.initStd, default: 0.1, in: 0...10)
        }
    }

    public static let kind = "bprmf"
    public static let summary = "matrix factorisation with BPR loss, SGD (Rendle et al., UAI 2009)"
    public let configuration: Configuration
    private var seed: UInt64
    /// Row-major [users, factors] and [items, factors].
    public private(set) var userFactors: [Float] = []
    public private(set) var itemFactors: [Float] = []
    private var itemCount = 0

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        let d = configuration.factors
        itemCount = data.itemCount
        var rng = SplitMix64(seed: seed).derived("bprmf")
        let std = configuration.initStd
        userFactors = (0..<(data.userCount * d)).map { _ in Float(rng.nextGaussian() * std) }
        itemFactors = (0..<(data.itemCount * d)).map { _ in Float(rng.nextGaussian() * std) }
        let positives = data.interactions.map { ($0.user, $0.item) }
        guard !positives.isEmpty else { throw RecError(.plugin, "BPR-MF: no training interactions") }
        let seen = data.history.map { Set($0) }
        let lr = Float(configuration.learningRate), reg = Float(configuration.regularization)
        for epoch in 1...max(1, configuration.epochs) where configuration.epochs > 0 {
            var loss = 0.0
            for _ in 0..<positives.count {
                let (user, item) = positives[rng.nextInt(below: positives.count)]
                var negative: Int32
                repeat { negative = Int32(rng.nextInt(below: data.itemCount)) } while seen[Int(user)].contains(negative) && seen[Int(user)].count < data.itemCount
                loss += BPRMF.step(
                    user: Int(user), positive: Int(item), negative: Int(negative), d: d, lr: lr, reg: reg,
                    users: &userFactors, items: &itemFactors)
            }
            context.report(.epochEnd(epoch: epoch, of: configuration.epochs, loss: loss / Double(positives.count)))
        }
    }

    /// One SGD step on triple (u, i, j). - Returns: the triple's loss `-ln σ(x)` before the step.
    @inlinable
    static func step(user u: Int, positive i: Int, negative j: Int, d: Int, lr: Float, reg: Float, users: inout [Float], items: inout [Float]) -> Double {
        var x: Float = 0
        for f in 0..<d { x += users[u * d + f] * (items[i * d + f] - items[j * d + f]) }
        let g = 1 / (1 + exp(x))  // σ(-x)
        for f in 0..<d {
            let pu = users[u * d + f], qi = items[i * d + f], qj = items[j * d + f]
            users[u * d + f] += lr * (g * (qi - qj) - reg * pu)
            items[i * d + f] += lr * (g * pu - reg * qi)
            items[j * d + f] += lr * (-g * pu - reg * qj)
        }
        return Double(log1p(exp(-x)))
    }

    /// The gradient of `-ln σ(p_u·(q_i - q_j)) + reg/2 (|p_u|² + |q_i|² + |q_j|²)` with respect to
    /// (p_u, q_i, q_j): what `step` descends. Exposed for the finite-difference test.
    public static func gradient(pu: [Float], qi: [Float], qj: [Float], reg: Float) -> (pu: [Float], qi: [Float], qj: [Float]) {
        var x: Float = 0
        for f in pu.indices { x += pu[f] * (qi[f] - qj[f]) }
        let g = 1 / (1 + exp(x))
        return (
            pu.indices.map { -g * (qi[$0] - qj[$0]) + reg * pu[$0] },
            pu.indices.map { -g * pu[$0] + reg * qi[$0] },
            pu.indices.map { g * pu[$0] + reg * qj[$0] }
        )
    }

    /// Item count, then user factors, then item factors, as little-endian Int64 and Float32.
    public func checkpoint() throws -> [UInt8] {
        var bytes = withUnsafeBytes(of: Int64(itemCount).littleEndian) { Array($0) }
        userFactors.withUnsafeBytes { bytes += $0 }
        itemFactors.withUnsafeBytes { bytes += $0 }
        return bytes
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        let d = configuration.factors
        guard bytes.count >= 8 else { throw RecError(.plugin, "BPR-MF checkpoint is truncated") }
        let items = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) })
        let floats = (bytes.count - 8) / 4
        guard (bytes.count - 8) % 4 == 0, items >= 0, floats >= items * d, (floats - items * d) % d == 0 else {
            throw RecError(.plugin, "BPR-MF checkpoint does not match factors \(d)")
        }
        let values = bytes[8...].withUnsafeBytes { raw in (0..<floats).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        itemCount = items
        userFactors = Array(values[..<(floats - items * d)])
        itemFactors = Array(values[(floats - items * d)...])
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        let d = configuration.factors
        var rows = [Float](repeating: 0, count: users.count * d)
        for (row, user) in users.enumerated() {
            for f in 0..<d { rows[row * d + f] = userFactors[Int(user) * d + f] }
        }
        // [users, d] x [items, d]ᵀ -> [users, items]
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(users.count), Int32(itemCount), Int32(d),
            1, rows, Int32(d), itemFactors, Int32(d), 0, scores.baseAddress, Int32(itemCount))
    }
}
