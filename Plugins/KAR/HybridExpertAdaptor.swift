import CTR
import RecCore
import RecTensor

/// KAR's hybrid-expert adaptor: maps knowledge vectors from the text encoder's space into the
/// recommendation space, one output per side (reasoning for users, facts for items).
///
/// Shapes, for `S` shared and `P` dedicated experts per side and knowledge vectors `x [N, K]`:
/// - expert: `[N, K] -> 128 -> 32` (sizes configurable), ReLU after every layer as KAR's MLP;
/// - gate of side `s`: `softmax(x W_s + b_s) [N, S + P]`;
/// - output of side `s`: `Σ_e gate_e · expert_e(x) [N, 32]` over the `S` shared experts (the
///   same for both sides) and the side's own `P`.
final class HybridExpertAdaptor {
    /// One expert: linear layers, each followed by ReLU.
    final class Expert {
        let layers: [LinearLayer]

        init(_ inputs: Int, _ sizes: [Int], rng: inout SplitMix64) {
            var width = inputs
            layers = sizes.map { size in
                defer { width = size }
                return LinearLayer(width, size, rng: &rng)
            }
        }

        func callAsFunction(_ x: Tensor) -> Tensor { layers.reduce(x) { $1($0).relu() } }
    }

    let shared: [Expert]
    /// Per side, its dedicated experts.
    let dedicated: [[Expert]]
    /// Per side, its gate.
    let gates: [LinearLayer]
    let outputWidth: Int

    init(sides: Int, inputs: Int, shared: Int, dedicated: Int, sizes: [Int], rng: inout SplitMix64) {
        self.shared = (0..<shared).map { _ in Expert(inputs, sizes, rng: &rng) }
        self.dedicated = (0..<sides).map { _ in (0..<dedicated).map { _ in Expert(inputs, sizes, rng: &rng) } }
        gates = (0..<sides).map { _ in LinearLayer(inputs, shared + dedicated, rng: &rng) }
        outputWidth = sizes.last!
    }

    var parameters: [(String, Tensor)] {
        func named(_ expert: Expert, _ name: String) -> [(String, Tensor)] { expert.layers.enumerated().flatMap { $1.parameters("\(name).\($0)") } }
        return shared.enumerated().flatMap { named($1, "shared.\($0)") }
            + dedicated.enumerated().flatMap { side, experts in experts.enumerated().flatMap { named($1, "side\(side).expert.\($0)") } }
            + gates.enumerated().flatMap { $1.parameters("side\($0).gate") }
    }

    /// `x [N, K]` of side `side` -> `[N, outputWidth]`.
    func callAsFunction(_ x: Tensor, side: Int) -> Tensor {
        let n = x.shape[0], w = outputWidth
        let experts = (shared + dedicated[side]).map { $0(x).reshaped([n, 1, w]) }
        let gate = gates[side](x).softmax()  // [N, E]
        return Tensor.concat(experts, axis: 1).scalingFields(by: gate).sum(axes: [1])
    }
}
