import COpenBLAS
import RecCore

/// A derive stage: item-item edges from the encoder's item vectors, each item linked to its
/// `neighbours` most cosine-similar items (self excluded), edges below `min_similarity` dropped.
/// The graph half of text-augmented user-item graphs, and the neighbourhood of content kNN.
///
/// Shapes: V [items × d] (rows L2-normalised); each block of rows B gives S = V_B · Vᵀ
/// [B × items] through one sgemm, and each row of S its top neighbours.
///
/// ```yaml
/// derive: [{ type: item_graph, neighbours: 20 }]
/// ```
public struct ItemGraphDeriver: Deriver {
    public struct Configuration: Codable, Sendable, Equatable {
        public var neighbours = 20
        public var minSimilarity: Double = 0

        enum CodingKeys: String, CodingKey, CaseIterable { case neighbours, minSimilarity }

        public init(neighbours: Int = 20, minSimilarity: Double = 0) {
            self.neighbours = neighbours
            self.minSimilarity = minSimilarity
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            neighbours = try c.decode(.neighbours, default: 20, in: 1...10_000)
            minSimilarity = try c.decode(.minSimilarity, default: 0, in: -1...1)
        }
    }

    public static let kind = "item_graph"
    public static let summary = "item-item graph: each item linked to its most cosine-similar items by encoder vectors"
    public let configuration: Configuration
    public var readsItemVectors: Bool { true }
    /// The graph is a function of the item vectors alone: one serves every split and seed.
    public var readsInteractions: Bool { false }
    public var usesSeed: Bool { false }

    /// Rows of similarities computed per sgemm: bounds the block to 256 × items floats.
    static let blockRows = 256

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public func derive(from data: TrainingSet, context: TrainingContext) throws -> ItemGraph {
        let n = data.itemCount
        guard data.itemVectors.count == n, let d = data.itemVectors.first?.count, d > 0 else {
            throw RecError(.plugin, "item_graph needs one encoder vector per item (\(n) items, \(data.itemVectors.count) vectors); give the pipeline an encoder: slot")
        }
        var matrix = [Float](repeating: 0, count: n * d)
        for (item, vector) in data.itemVectors.enumerated() {
            guard vector.count == d else { throw RecError(.plugin, "item_graph: item \(item)'s vector has \(vector.count) dimensions, the first has \(d)") }
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            // A zero vector (an item with no text) has no neighbours: its similarities stay 0.
            if norm > 0 { for j in 0..<d { matrix[item * d + j] = vector[j] / norm } }
        }
        let k = min(configuration.neighbours, n - 1)
        let floor = Float(configuration.minSimilarity)
        var neighbours = [[Int32]](repeating: [], count: n)
        var weights = [[Float]](repeating: [], count: n)
        var block = [Float](repeating: 0, count: Self.blockRows * n)
        for start in stride(from: 0, to: n, by: Self.blockRows) {
            let rows = min(Self.blockRows, n - start)
            matrix.withUnsafeBufferPointer { v in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(d), 1, v.baseAddress! + start * d, Int32(d), v.baseAddress, Int32(d), 0, &block, Int32(n))
            }
            block.withUnsafeBufferPointer { scores in
                for row in 0..<rows where k > 0 {
                    let item = start + row
                    let line = UnsafeBufferPointer(rebasing: scores[(row * n)..<(row * n + n)])
                    let top = TopK.select(line, k: k) { $0 == item }
                    let kept = top.filter { line[Int($0)] > 0 && line[Int($0)] >= floor }
                    neighbours[item] = kept
                    weights[item] = kept.map { line[Int($0)] }
                }
            }
        }
        context.report(.message("item graph: \(n) items, \(neighbours.reduce(0) { $0 + $1.count }) edges"))
        return ItemGraph(neighbours: neighbours, weights: weights)
    }
}
