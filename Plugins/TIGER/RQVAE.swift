import CTR
import Foundation
import RecCore
import RecTensor

/// TIGER's residual-quantised variational autoencoder: an MLP encoder to a small latent, `levels`
/// codebooks that quantise the latent residual by residual, and a mirrored MLP decoder.
///
/// Shapes, for input vectors `x [N, K]`, hidden sizes `[h₁, …, h_m]` and latent width `D`:
/// - encoder: `K -> h₁ -> … -> h_m -> D`, ReLU after every layer but the last;
/// - level `l` (codebook `C_l [codes, D]`): residual `r₀ = z`, code `c_l = argmin_k ‖r_l − C_l[k]‖`,
///   codeword `q_l = C_l[c_l]`, `r_{l+1} = r_l − q_l`;
/// - decoder: `D -> h_m -> … -> h₁ -> K` on `ẑ = z + sg(Σ_l q_l − z)` (the straight-through
///   estimator), ReLU after every layer but the last.
///
/// Loss: the reconstruction error summed over the K dimensions (not averaged: averaging shrinks
/// it against the quantisation terms), plus per level the codebook term and the commitment
/// term weighted by β (`Loss.vectorQuantization`), averaged over rows.
final class RQVAE {
    let encoder: [LinearLayer]
    let decoder: [LinearLayer]
    /// Per level, `[codes, D]`.
    let codebooks: [Tensor]
    let latent: Int
    let beta: Float

    init(inputs: Int, hidden: [Int], latent: Int, levels: Int, codes: Int, beta: Float, rng: inout SplitMix64) {
        var sizes = [inputs] + hidden + [latent]
        encoder = zip(sizes, sizes.dropFirst()).map { LinearLayer($0, $1, rng: &rng) }
        sizes.reverse()
        decoder = zip(sizes, sizes.dropFirst()).map { LinearLayer($0, $1, rng: &rng) }
        codebooks = (0..<levels).map { _ in Initializer.normal([codes, latent], std: 1, rng: &rng) }
        self.latent = latent
        self.beta = beta
    }

    var parameters: [Tensor] { (encoder + decoder).flatMap { [$0.weight, $0.bias] } + codebooks }

    static func mlp(_ layers: [LinearLayer], _ x: Tensor) -> Tensor {
        layers.enumerated().reduce(x) { value, layer in
            layer.offset == layers.count - 1 ? layer.element(value) : value.linearReLU(layer.element.weight, layer.element.bias)
        }
    }

    /// `[N, K] -> [N, D]`.
    func encode(_ x: Tensor) -> Tensor { Self.mlp(encoder, x) }

    /// Per level, each row's nearest code to its residual; with `losses`, the sum over levels of
    /// the codebook and commitment terms, and the sum of the codewords (`[N, D]`).
    func quantize(_ z: Tensor) -> (codes: [[Int32]], codewords: Tensor, loss: Tensor) {
        let n = z.shape[0]
        var residual = z
        var codes: [[Int32]] = []
        var sum: Tensor?, loss: Tensor?
        for codebook in codebooks {
            let nearest = KMeans.assign(residual.data, d: latent, centroids: codebook.data, k: codebook.shape[0]).nearest
            let q = codebook.gather(rows: nearest)
            let term = Loss.vectorQuantization(residual, q, beta: beta)
            loss = loss.map { $0 + term } ?? term
            sum = sum.map { $0 + q } ?? q
            residual = residual - q.detached()
            codes.append(nearest)
        }
        precondition(codes.allSatisfy { $0.count == n })
        return (codes, sum!, loss!)
    }

    /// The training loss of a batch `x [N, K]`: (total, reconstruction, quantisation), each term
    /// summed over its dimensions, or with `perDimension` averaged over them (the reconstruction
    /// over K, the quantisation terms over D), which weighs every coordinate alike.
    func loss(_ x: Tensor, perDimension: Bool = false) -> (total: Tensor, reconstruction: Float, quantization: Float) {
        let z = encode(x)
        var (_, codewords, quantization) = quantize(z)
        var reconstruction = Loss.summedSquaredError(Self.mlp(decoder, z.straightThrough(codewords)), target: x.data)
        if perDimension {
            reconstruction = reconstruction * (1 / Float(x.shape[1]))
            quantization = quantization * (1 / Float(latent))
        }
        return (reconstruction + quantization, reconstruction.item, quantization.item)
    }

    /// Each row's codes, `[N][levels]`.
    func codes(_ x: Tensor) -> [[Int32]] {
        Tensor.noGrad {
            let perLevel = quantize(encode(x)).codes
            return (0..<x.shape[0]).map { row in perLevel.map { $0[row] } }
        }
    }

    /// Sets every codebook by k-means on the residuals of `x`, level by level (TIGER's
    /// initialisation on the first batch).
    func initializeCodebooks(_ x: Tensor, iterations: Int, rng: inout SplitMix64) {
        let latents = Tensor.noGrad { encode(x).data }
        let levels = KMeans.residual(latents, d: latent, k: codebooks[0].shape[0], levels: codebooks.count, iterations: iterations, rng: &rng)
        for (codebook, centroids) in zip(codebooks, levels.centroids) { codebook.data = centroids }
    }

    /// Moves every code of level `level` that no row of `x` uses onto a random row's residual
    /// at that level, so that dead codes get back into use. Returns how many were reset.
    @discardableResult
    func resetDeadCodes(_ x: Tensor, rng: inout SplitMix64) -> Int {
        Tensor.noGrad {
            var residual = encode(x).data
            let n = x.shape[0]
            var reset = 0
            for codebook in codebooks {
                let k = codebook.shape[0]
                let nearest = KMeans.assign(residual, d: latent, centroids: codebook.data, k: k).nearest
                var used = [Bool](repeating: false, count: k)
                for code in nearest { used[Int(code)] = true }
                for code in 0..<k where !used[code] {
                    let row = Int(rng.next() % UInt64(n))
                    for j in 0..<latent { codebook.data[code * latent + j] = residual[row * latent + j] }
                    reset += 1
                }
                let assigned = KMeans.assign(residual, d: latent, centroids: codebook.data, k: k).nearest
                for (row, code) in assigned.enumerated() {
                    for j in 0..<latent { residual[row * latent + j] -= codebook.data[Int(code) * latent + j] }
                }
            }
            return reset
        }
    }
}
