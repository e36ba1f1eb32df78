import Foundation
import RecCore

/// A factorization machine over fields (Rendle 2010, in RecBole's field form); with
/// `factors == 0` it is logistic regression.
///
/// Shapes: `linear [rows]`, `embeddings [rows, factors]`, `bias` a scalar. For a pair with
/// field vectors `e_f = pool_f(embeddings[tokens of f])` (`[factors]` each) and first-order
/// weights `w_f = Σ_t value_t · linear[row_t]`:
///
///     logit = bias + Σ_f w_f + ½ Σ_d ((Σ_f e_fd)² − Σ_f e_fd²)
///
/// so `∂logit/∂e_fd = s_d − e_fd` with `s = Σ_f e_f`, and a token's embedding row receives that
/// times its pooling weight (1, or 1/n for the mean of a multi-valued field). The gradients are
/// checked against finite differences in CTRTests.
struct FMModel: Sendable, Equatable {
    var factors: Int
    var bias: Float = 0
    var linear: [Float]
    var embeddings: [Float]

    /// Xavier-normal initialisation of both tables, as RecBole's FM: std √(2 / (rows + cols)).
    init(rows: Int, factors: Int, seed: UInt64) {
        self.factors = factors
        var rng = SplitMix64(seed: seed)
        func normal(_ count: Int, std: Double) -> [Float] { (0..<count).map { _ in Float(std * rng.nextGaussian()) } }
        linear = normal(rows, std: (2 / Double(rows + 1)).squareRoot())
        embeddings = factors > 0 ? normal(rows * factors, std: (2 / Double(rows + factors)).squareRoot()) : []
    }

    /// The fields of one pair: the user's fields, then the item's.
    typealias Fields = (user: [[FieldLayout.Token]], item: [[FieldLayout.Token]], userMulti: [Bool], itemMulti: [Bool])

    /// The logit of one pair; `scratch` holds `[fields, factors]` field vectors and the sum,
    /// kept for `accumulate`.
    func logit(_ pair: Fields, scratch: inout [Float]) -> Float {
        let k = factors
        let fieldCount = pair.user.count + pair.item.count
        if scratch.count < (fieldCount + 1) * k { scratch = [Float](repeating: 0, count: (fieldCount + 1) * k) }
        var first = bias
        var square: Float = 0
        for d in 0..<k { scratch[fieldCount * k + d] = 0 }
        var f = 0
        for (tables, multi) in [(pair.user, pair.userMulti), (pair.item, pair.itemMulti)] {
            for (index, tokens) in tables.enumerated() {
                for token in tokens { first += token.value * linear[Int(token.row)] }
                guard k > 0 else { f += 1; continue }
                let weight: Float = multi[index] ? 1 / Float(max(1, tokens.count)) : 1
                let base = f * k
                for d in 0..<k { scratch[base + d] = 0 }
                for token in tokens {
                    let row = Int(token.row) * k
                    let scale = weight * token.value
                    for d in 0..<k { scratch[base + d] += scale * embeddings[row + d] }
                }
                for d in 0..<k {
                    let value = scratch[base + d]
                    scratch[fieldCount * k + d] += value
                    square += value * value
                }
                f += 1
            }
        }
        var total: Float = 0
        for d in 0..<k { let s = scratch[fieldCount * k + d]; total += s * s }
        return first + 0.5 * (total - square)
    }

    /// Adds `scale · ∂logit/∂θ` to `gradient` (same layout as the model), reading the field
    /// vectors `logit` left in `scratch`.
    func accumulate(_ pair: Fields, scale: Float, scratch: [Float], into gradient: inout FMModel) {
        let k = factors
        let fieldCount = pair.user.count + pair.item.count
        gradient.bias += scale
        var f = 0
        for (tables, multi) in [(pair.user, pair.userMulti), (pair.item, pair.itemMulti)] {
            for (index, tokens) in tables.enumerated() {
                for token in tokens { gradient.linear[Int(token.row)] += scale * token.value }
                guard k > 0 else { f += 1; continue }
                let weight: Float = multi[index] ? 1 / Float(max(1, tokens.count)) : 1
                let base = f * k
                for token in tokens {
                    let row = Int(token.row) * k
                    let tokenScale = scale * weight * token.value
                    for d in 0..<k {
                        gradient.embeddings[row + d] += tokenScale * (scratch[fieldCount * k + d] - scratch[base + d])
                    }
                }
                f += 1
            }
        }
    }

    /// A model of zeros with this one's shape (a gradient buffer).
    var zeros: FMModel {
        var copy = self
        copy.bias = 0
        copy.linear = [Float](repeating: 0, count: linear.count)
        copy.embeddings = [Float](repeating: 0, count: embeddings.count)
        return copy
    }

    /// Every parameter, in one order (bias, linear, embeddings), for the optimiser.
    var parameterCount: Int { 1 + linear.count + embeddings.count }

    func write(to writer: inout CheckpointWriter) {
        writer.int(factors)
        writer.floats([bias])
        writer.floats(linear)
        writer.floats(embeddings)
    }

    init(from reader: inout CheckpointReader, rows: Int) throws {
        factors = try reader.count(atMost: 4096)
        let bias = try reader.floats()
        linear = try reader.floats()
        embeddings = try reader.floats()
        guard bias.count == 1, linear.count == rows, embeddings.count == rows * factors else {
            throw RecError(.plugin, "CTR checkpoint parameters do not match \(rows) rows of \(factors) factors")
        }
        self.bias = bias[0]
    }
}
