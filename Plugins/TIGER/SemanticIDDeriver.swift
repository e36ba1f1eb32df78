import Foundation
import RecCore
import RecTensor

/// A derive stage: TIGER's semantic IDs from the encoder's item vectors. The vectors are
/// standardised per dimension, then quantised into `levels` codes of `codes` each by one of:
///
/// - `rqvae`: the residual-quantised autoencoder (`RQVAE`), codebooks initialised by k-means on
///   the first batch, dead codes moved onto live residuals every `reset_every` epochs, Adam;
/// - `residual_kmeans`: k-means on the vectors, then on what the centroids leave, level by level;
/// - `random`: codes drawn uniformly (the ablation that keeps the shape and drops the content).
///
/// A last code tells apart the items whose codes collide, so every ID names one item.
///
/// ```yaml
/// derive: [{ type: tiger.semantic_ids, quantiser: rqvae, levels: 3, codes: 256, epochs: 500 }]
/// ```
public struct SemanticIDDeriver: Deriver {
    public struct Configuration: Codable, Sendable, Equatable {
        public enum Quantiser: String, Codable, Sendable, CaseIterable { case rqvae, residualKmeans = "residual_kmeans", random }
        public enum MissingText: String, Codable, Sendable, CaseIterable { case refuse, allow }
        /// How the RQ-VAE's loss terms reduce over dimensions: `mean` averages the
        /// reconstruction over the input's and the quantisation terms over the latent's, `sum`
        /// sums both.
        public enum Reduction: String, Codable, Sendable, CaseIterable { case mean, sum }

        public var quantiser = Quantiser.rqvae
        public var levels = 3
        public var codes = 256
        public var latent = 32
        public var hidden = [512, 256, 128]
        public var epochs = 500
        public var batch = 1024
        public var learningRate = 1e-3
        public var beta = 0.25
        public var kmeansIterations = 20
        public var resetEvery = 10
        public var missingText = MissingText.refuse
        public var reduction = Reduction.mean

        enum CodingKeys: String, CodingKey, CaseIterable {
            case quantiser, levels, codes, latent, hidden, epochs, batch, learningRate, beta, kmeansIterations, resetEvery, missingText, reduction
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            quantiser = try c.decode(.quantiser, default: .rqvae)
            levels = try c.decode(.levels, default: 3, in: 1...16)
            codes = try c.decode(.codes, default: 256, in: 2...65_536)
            latent = try c.decode(.latent, default: 32, in: 1...4096)
            hidden = try c.decodeLayerSizes(.hidden, default: [512, 256, 128])
            epochs = try c.decode(.epochs, default: 500, in: 1...1_000_000)
            batch = try c.decode(.batch, default: 1024, in: 1...1_000_000)
            learningRate = try c.decode(.learningRate, default: 1e-3, in: 1e-8...10)
            beta = try c.decode(.beta, default: 0.25, in: 0...100)
            kmeansIterations = try c.decode(.kmeansIterations, default: 20, in: 0...10_000)
            resetEvery = try c.decode(.resetEvery, default: 10, in: 0...1_000_000)
            missingText = try c.decode(.missingText, default: .refuse)
            reduction = try c.decode(.reduction, default: .mean)
        }
    }

    public static let kind = "tiger.semantic_ids"
    public static let summary = "TIGER's semantic IDs: item vectors quantised by an RQ-VAE (or residual k-means, or at random) into a few codes each"
    public let configuration: Configuration
    public var readsItemVectors: Bool { true }
    /// The IDs depend on the item vectors and the seed, not on the interactions: every split
    /// shares one set per seed.
    public var readsInteractions: Bool { false }

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public func derive(from data: TrainingSet, context: TrainingContext) throws -> SemanticIDs {
        let (points, d) = try standardizedVectors(data)
        let n = data.itemCount, c = configuration
        if c.quantiser != .random && c.codes > n {
            throw RecError(
                .plugin,
                "tiger.semantic_ids: a codebook of \(c.codes) codes is larger than the \(n) items; its k-means initialisation needs at least as many items as codes (set codes: \(n) or fewer)"
            )
        }
        var rng = SplitMix64(seed: context.seed).derived("tiger.semantic_ids")
        let quantised: [[Int32]]
        switch c.quantiser {
        case .random:
            quantised = (0..<n).map { _ in (0..<c.levels).map { _ in Int32(rng.next() % UInt64(c.codes)) } }
        case .residualKmeans:
            quantised = residualKMeans(points, d: d, rng: &rng)
        case .rqvae:
            quantised = try trainRQVAE(points, d: d, rng: &rng, context: context)
        }
        let ids = SemanticIDs(codes: SemanticIDs.disambiguated(quantised), levels: c.levels, codebookSize: c.codes, quantiser: c.quantiser.rawValue)
        let usage = ids.usage.map { String(format: "%.1f%%", $0 * 100) }.joined(separator: ", ")
        context.report(
            .message(
                String(
                    format: "semantic IDs (%@): codebook usage per level %@; %.2f%% of items collide (at most %d share codes), the last code tells them apart",
                    c.quantiser.rawValue, usage, ids.collisionRate * 100, ids.largestCollision)))
        return ids
    }

    /// The item vectors as one row-major matrix, each dimension standardised to mean 0 and
    /// variance 1 over the items (a constant dimension is only centred).
    func standardizedVectors(_ data: TrainingSet) throws -> ([Float], Int) {
        let n = data.itemCount
        guard data.itemVectors.count == n, let d = data.itemVectors.first?.count, d > 0 else {
            throw RecError(
                .plugin, "tiger.semantic_ids needs one encoder vector per item (\(n) items, \(data.itemVectors.count) vectors); give the pipeline an encoder: slot")
        }
        if configuration.missingText == .refuse, let first = data.itemText.indices.first(where: { data.itemText[$0].fields.isEmpty }) {
            let missing = data.itemText.count { $0.fields.isEmpty }
            throw RecError(
                .plugin,
                "tiger.semantic_ids: \(missing) of \(n) items have no text (the first is item \(first)), so their vectors say nothing about them; give them text, or set missing_text: allow to quantise them anyway"
            )
        }
        var matrix = [Float](repeating: 0, count: n * d)
        for (item, vector) in data.itemVectors.enumerated() {
            guard vector.count == d else { throw RecError(.plugin, "tiger.semantic_ids: item \(item)'s vector has \(vector.count) dimensions, the first has \(d)") }
            for j in 0..<d { matrix[item * d + j] = vector[j] }
        }
        for j in 0..<d {
            var mean = 0.0, square = 0.0
            for item in 0..<n { mean += Double(matrix[item * d + j]) }
            mean /= Double(n)
            for item in 0..<n { square += pow(Double(matrix[item * d + j]) - mean, 2) }
            let deviation = (square / Double(n)).squareRoot()
            for item in 0..<n { matrix[item * d + j] = Float((Double(matrix[item * d + j]) - mean) / (deviation > 1e-12 ? deviation : 1)) }
        }
        return (matrix, d)
    }

    /// k-means on the points, then on their residuals, level by level.
    func residualKMeans(_ points: [Float], d: Int, rng: inout SplitMix64) -> [[Int32]] {
        let levels = KMeans.residual(
            points, d: d, k: configuration.codes, levels: configuration.levels, iterations: max(1, configuration.kmeansIterations), rng: &rng)
        return (0..<points.count / d).map { row in levels.nearest.map { $0[row] } }
    }

    func trainRQVAE(_ points: [Float], d: Int, rng: inout SplitMix64, context: TrainingContext) throws -> [[Int32]] {
        let c = configuration, n = points.count / d
        let model = RQVAE(inputs: d, hidden: c.hidden, latent: c.latent, levels: c.levels, codes: c.codes, beta: Float(c.beta), rng: &rng)
        let adam = Adam(parameters: model.parameters, learningRate: Float(c.learningRate))
        let all = Tensor(shape: [n, d], data: points)
        func rows(_ indices: ArraySlice<Int>) -> Tensor {
            var values = [Float]()
            values.reserveCapacity(indices.count * d)
            for row in indices { values += points[(row * d)..<(row * d + d)] }
            return Tensor(shape: [indices.count, d], data: values)
        }
        var order = Array(0..<n)
        for epoch in 1...c.epochs {
            order.shuffle(using: &rng)
            if epoch == 1 { model.initializeCodebooks(rows(order.prefix(c.batch)), iterations: max(1, c.kmeansIterations), rng: &rng) }
            var total = 0.0, reconstruction = 0.0, quantization = 0.0, batches = 0
            for start in stride(from: 0, to: n, by: c.batch) {
                let batch = rows(order[start..<min(n, start + c.batch)])
                adam.zeroGrad()
                let loss = model.loss(batch, perDimension: c.reduction == .mean)
                loss.total.backward()
                adam.update()
                total += Double(loss.total.item)
                reconstruction += Double(loss.reconstruction)
                quantization += Double(loss.quantization)
                batches += 1
            }
            guard total.isFinite else { throw RecError(.plugin, "tiger.semantic_ids: the RQ-VAE's loss became \(total) in epoch \(epoch); lower learning_rate") }
            if c.resetEvery > 0 && epoch % c.resetEvery == 0 && epoch < c.epochs { model.resetDeadCodes(all, rng: &rng) }
            context.report(.epochEnd(epoch: epoch, of: c.epochs, loss: total / Double(batches)))
            if epoch == 1 || epoch % 50 == 0 || epoch == c.epochs {
                context.report(
                    .message(
                        String(
                            format: "rqvae epoch %d: reconstruction %.4f, quantisation %.4f per item (%@ over dimensions)", epoch, reconstruction / Double(batches), quantization / Double(batches),
                            c.reduction.rawValue)))
            }
        }
        return model.codes(all)
    }
}
