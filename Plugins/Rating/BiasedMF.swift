import COpenBLAS
import Foundation
import RecCore

/// Biased matrix factorisation for explicit ratings, trained by SGD.
///
/// **Paper:** Koren, Bell and Volinsky, "Matrix Factorization Techniques for Recommender
/// Systems", IEEE Computer 2009, eq. 4-5: `r̂_ui = μ + b_u + b_i + q_iᵀ p_u`, minimising the
/// regularised squared error. Per rating, with `e = r − r̂`:
/// `b_u += γ (e − λ b_u)`, `b_i += γ (e − λ b_i)`, `p_u += γ (e q_i − λ p_u)`,
/// `q_i += γ (e p_u − λ q_i)` (the updates use the old `p_u` and `q_i`).
///
/// **Ours:** scikit-surprise's `SVD` defaults (100 factors, 20 epochs, γ 0.005, λ 0.02, factors
/// drawn from N(0, 0.1²), biases from 0), so the two can be compared on one split, and its
/// prediction rule: a user or item without training ratings contributes neither bias nor
/// factors, and predictions are clipped to the training ratings' range. **Deviation:** the
/// ratings are visited in a seeded random order each epoch; surprise visits them user by user.
///
/// It is also a retriever: the catalogue ranked by predicted rating (through `cblas_sgemm`).
///
/// ```yaml
/// scorer: { type: biased_mf, factors: 100, epochs: 20, learning_rate: 0.005, regularization: 0.02 }
/// ```
public struct BiasedMF: Scorer, Retriever, Trainable, Checkpointable {
    public struct Configuration: Codable, Sendable, Equatable {
        public var factors: Int = 100
        public var epochs: Int = 20
        public var learningRate: Double = 0.005
        public var regularization: Double = 0.02
        public var initStd: Double = 0.1
        /// Clip predictions to the range of the training ratings.
        public var clip: Bool = true

        enum CodingKeys: String, CodingKey, CaseIterable { case factors, epochs, learningRate, regularization, initStd, clip }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            factors = try c.decode(.factors, default: 100, in: 0...4096)
            epochs = try c.decode(.epochs, default: 20, in: 0...100_000)
            learningRate = try c.decode(.learningRate, default: 0.005, in: 1e-9...10)
            regularization = try c.decode(.regularization, default: 0.02, in: 0...100)
            initStd = try c.decode(.initStd, default: 0.1, in: 0...10)
            clip = try c.decode(.clip, default: true)
        }
    }

    public static let kind = "biased_mf"
    public static let summary = "biased matrix factorisation for ratings, SGD (Koren et al. 2009; surprise's SVD)"
    public let configuration: Configuration
    public var predicts: PredictionKind { .rating }
    private let seed: UInt64
    private var mean: Float = 0
    private var range: ClosedRange<Float> = 1...5
    /// `[users]`, `[items]`, row-major `[users, factors]`, `[items, factors]`.
    private var userBias: [Float] = [], itemBias: [Float] = []
    private var userFactors: [Float] = [], itemFactors: [Float] = []
    /// Whether the user or item had training ratings.
    private var knownUser: [Bool] = [], knownItem: [Bool] = []

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        self.seed = context.seed
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        let ratings = data.interactions
        guard !ratings.isEmpty else { throw RecError(.plugin, "biased_mf has no training ratings") }
        let k = configuration.factors
        mean = ratings.meanRating
        range = ratings.ratingRange!
        var rng = SplitMix64(seed: seed).derived("biased-mf-init")
        func normal() -> Float { Float(configuration.initStd * rng.nextGaussian()) }
        userBias = [Float](repeating: 0, count: data.userCount)
        itemBias = [Float](repeating: 0, count: data.itemCount)
        userFactors = (0..<data.userCount * k).map { _ in normal() }
        itemFactors = (0..<data.itemCount * k).map { _ in normal() }
        knownUser = [Bool](repeating: false, count: data.userCount)
        knownItem = [Bool](repeating: false, count: data.itemCount)
        for event in ratings { knownUser[Int(event.user)] = true; knownItem[Int(event.item)] = true }
        let lr = Float(configuration.learningRate), reg = Float(configuration.regularization)
        var order = Array(ratings.indices)
        var shuffler = SplitMix64(seed: seed).derived("biased-mf-order")
        for epoch in 0..<configuration.epochs {
            order.shuffle(using: &shuffler)
            var squared = 0.0
            userFactors.withUnsafeMutableBufferPointer { p in
                itemFactors.withUnsafeMutableBufferPointer { q in
                    for index in order {
                        let event = ratings[index]
                        let u = Int(event.user), i = Int(event.item)
                        let error = Self.step(
                            rating: event.rating, mean: mean, userBias: &userBias[u], itemBias: &itemBias[i],
                            p: p.baseAddress! + u * k, q: q.baseAddress! + i * k, factors: k, learningRate: lr, regularization: reg)
                        squared += Double(error * error)
                    }
                }
            }
            context.report(.epochEnd(epoch: epoch + 1, of: configuration.epochs, loss: (squared / Double(ratings.count)).squareRoot()))
        }
    }

    /// One SGD step on one rating: a step of `learningRate` down the gradient of
    /// `½ e² + ½ λ (b_u² + b_i² + |p_u|² + |q_i|²)`, `e = r − (μ + b_u + b_i + q_iᵀ p_u)`.
    /// - Returns: the error before the step.
    static func step(
        rating: Float, mean: Float, userBias: inout Float, itemBias: inout Float, p: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>,
        factors k: Int, learningRate lr: Float, regularization reg: Float
    ) -> Float {
        var dot: Float = 0
        for d in 0..<k { dot += p[d] * q[d] }
        let error = rating - (mean + userBias + itemBias + dot)
        userBias += lr * (error - reg * userBias)
        itemBias += lr * (error - reg * itemBias)
        for d in 0..<k {
            let pu = p[d], qi = q[d]
            p[d] += lr * (error * qi - reg * pu)
            q[d] += lr * (error * pu - reg * qi)
        }
        return error
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        guard !knownUser.isEmpty || !knownItem.isEmpty else { throw RecError(.plugin, "biased_mf predicts before it was trained") }
        let k = configuration.factors
        return zip(users, items).map { user, item in
            let u = Int(user), i = Int(item)
            let hasUser = u < knownUser.count && knownUser[u], hasItem = i < knownItem.count && knownItem[i]
            var value = mean + (hasUser ? userBias[u] : 0) + (hasItem ? itemBias[i] : 0)
            if hasUser && hasItem { for d in 0..<k { value += userFactors[u * k + d] * itemFactors[i * k + d] } }
            return configuration.clip ? min(max(value, range.lowerBound), range.upperBound) : value
        }
    }

    /// Predicted ratings of every item, `[users.count, items]`, without clipping (clipping
    /// would tie the top of the list).
    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        let items = itemBias.count, k = configuration.factors
        guard scores.count == users.count * items else { throw RecError(.plugin, "biased_mf: score buffer does not match \(users.count) users × \(items) items") }
        let rows = users.map { Int($0) < knownUser.count && knownUser[Int($0)] ? Int($0) : -1 }
        var left = [Float](repeating: 0, count: users.count * max(1, k))
        for (row, u) in rows.enumerated() where u >= 0 && k > 0 {
            for d in 0..<k { left[row * k + d] = userFactors[u * k + d] }
        }
        if k > 0 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(users.count), Int32(items), Int32(k), 1, left, Int32(k), itemFactors, Int32(k), 0, scores.baseAddress, Int32(items))
        } else {
            for index in scores.indices { scores[index] = 0 }
        }
        for (row, u) in rows.enumerated() {
            let base = mean + (u >= 0 ? userBias[u] : 0)
            for i in 0..<items { scores[row * items + i] += base + (knownItem[i] ? itemBias[i] : 0) }
        }
    }

    public func checkpoint() throws -> [UInt8] {
        var writer = CheckpointWriter()
        writer.floats([mean, range.lowerBound, range.upperBound])
        for array in [userBias, itemBias, userFactors, itemFactors] { writer.floats(array) }
        writer.floats(knownUser.map { $0 ? 1 : 0 })
        writer.floats(knownItem.map { $0 ? 1 : 0 })
        return writer.bytes
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        var reader = CheckpointReader(bytes, model: Self.kind)
        let head = try reader.floats()
        let arrays = try (0..<6).map { _ in try reader.floats() }
        try reader.finish()
        let k = configuration.factors
        guard head.count == 3, head[1] <= head[2], arrays[2].count == arrays[0].count * k, arrays[3].count == arrays[1].count * k,
            arrays[4].count == arrays[0].count, arrays[5].count == arrays[1].count
        else {
            throw RecError(.plugin, "biased_mf checkpoint does not match \(k) factors")
        }
        mean = head[0]
        range = head[1]...head[2]
        (userBias, itemBias, userFactors, itemFactors) = (arrays[0], arrays[1], arrays[2], arrays[3])
        knownUser = arrays[4].map { $0 > 0 }
        knownItem = arrays[5].map { $0 > 0 }
    }
}
