import Foundation
import RecCore
import Testing

@testable import RecTensor

/// Checks the hand-written derivatives of `f` against central finite differences.
///
/// The scalar checked is `sum(f(inputs) * R)` with fixed random weights R, so every output
/// element contributes. The loss is summed in Float64; the finite difference is Richardson-
/// extrapolated from steps h and h/2 (error O(h⁴)), because Float32 forward passes rule out
/// tiny steps. The tolerance is what that leaves: about 1e-3.
func checkGradients(
    _ shapes: [[Int]], seed: UInt64 = 1, positive: Bool = false, tolerance: Float = 3e-3,
    file: String = #fileID, line: Int = #line, _ f: ([Tensor]) -> Tensor
) {
    var rng = SplitMix64(seed: seed)
    let values: [[Float]] = shapes.map { shape in
        (0..<shape.reduce(1, *)).map { _ in
            let x = Float(rng.nextGaussian())
            return positive ? abs(x) + 0.5 : x
        }
    }
    let probe = f(values.enumerated().map { Tensor(shape: shapes[$0.offset], data: $0.element) })
    let weights = (0..<probe.count).map { _ in Float(rng.nextGaussian()) }
    func loss(_ inputs: [[Float]]) -> Double {
        let out = Tensor.noGrad { f(inputs.enumerated().map { Tensor(shape: shapes[$0.offset], data: $0.element) }) }
        return zip(out.data, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    let inputs = values.enumerated().map { Tensor(shape: shapes[$0.offset], data: $0.element, requiresGrad: true) }
    let output = f(inputs)
    (output * Tensor(shape: output.shape, data: weights)).sum().backward()
    func difference(_ index: Int, _ i: Int, _ h: Float) -> Double {
        var plus = values, minus = values
        plus[index][i] += h
        minus[index][i] -= h
        return (loss(plus) - loss(minus)) / Double(2 * h)
    }
    for (index, input) in inputs.enumerated() {
        let analytic = input.grad ?? [Float](repeating: 0, count: input.count)
        for i in 0..<input.count {
            let numeric = Float((4 * difference(index, i, 1e-2) - difference(index, i, 2e-2)) / 3)
            let error = abs(numeric - analytic[i])
            #expect(error <= tolerance * max(1, abs(numeric)), "input \(index)[\(i)]: numeric \(numeric), analytic \(analytic[i]) (\(file):\(line))")
        }
    }
}

struct GradientTests {
    @Test func broadcastingArithmetic() {
        checkGradients([[2, 3], [3]]) { $0[0] + $0[1] }
        checkGradients([[2, 3], [2, 1]]) { $0[0] - $0[1] }
        checkGradients([[2, 1, 3], [4, 1]]) { $0[0] * $0[1] }
        checkGradients([[2, 3], [3]], positive: true) { $0[0] / $0[1] }
        checkGradients([[3, 2]]) { $0[0] * 2.5 + 1 }
        checkGradients([[2, 3], [2, 3]]) { $0[0] + $0[1] }
    }

    @Test func rotaryAndSharedHeads() {
        // Two heads of width 4 over three positions, with angles that are not multiples of π/2.
        let positions = [0, 2, 5]
        let angles = (0..<6).flatMap { p in (0..<2).map { i in Float(p) * (i == 0 ? 0.7 : 0.13) } }
        let cos = angles.map { Foundation.cos($0) }, sin = angles.map { Foundation.sin($0) }
        checkGradients([[2, 3, 8]]) { $0[0].rotary(cos: cos, sin: sin, positions: positions, headDim: 4) }
        checkGradients([[3, 6]]) { $0[0].repeatingHeads(3, headDim: 2) }
        // A rotation keeps each pair's length and turns position 0 not at all.
        let x = Tensor(shape: [3, 4], data: (0..<12).map { Float($0) - 5 })
        let turned = x.rotary(cos: cos, sin: sin, positions: positions, headDim: 4)
        #expect(Array(turned.data[0..<4]) == Array(x.data[0..<4]))
        for pair in stride(from: 4, to: 12, by: 2) {
            let before = x.data[pair] * x.data[pair] + x.data[pair + 1] * x.data[pair + 1]
            let after = turned.data[pair] * turned.data[pair] + turned.data[pair + 1] * turned.data[pair + 1]
            #expect(abs(before - after) < 1e-4)
        }
        #expect(Tensor(shape: [1, 4], data: [1, 2, 3, 4]).repeatingHeads(2, headDim: 2).data == [1, 2, 1, 2, 3, 4, 3, 4])
    }

    @Test func activations() {
        checkGradients([[3, 4]]) { $0[0].tanh() }
        checkGradients([[3, 4]]) { $0[0].sigmoid() }
        checkGradients([[3, 4]]) { $0[0].silu() }
        checkGradients([[3, 4]]) { $0[0].gelu() }
        checkGradients([[2, 11]]) { $0[0].gelu() }  // a full group of eight lanes and a tail
        checkGradients([[3, 4]], seed: 5) { $0[0].relu() }
    }

    @Test func matrixProducts() {
        checkGradients([[2, 3, 4], [4, 5]]) { $0[0].matmul($0[1]) }
        checkGradients([[3, 4], [5, 4]]) { $0[0].matmul($0[1], transposeB: true) }
        checkGradients([[2, 3, 4], [2, 4, 2]]) { $0[0].bmm($0[1]) }
        checkGradients([[2, 2, 3, 4], [2, 2, 5, 4]]) { $0[0].bmm($0[1], transposeB: true) }
        checkGradients([[2, 3, 4], [4, 5], [5]]) { $0[0].linear($0[1], $0[2]) }
    }

    @Test func reductionsAndShapes() {
        checkGradients([[2, 3, 4]]) { $0[0].sum(axes: [1]) }
        checkGradients([[2, 3, 4]]) { $0[0].mean(axes: [0, 2], keepDims: true) }
        checkGradients([[2, 3, 4]]) { $0[0].sum() }
        checkGradients([[2, 6]]) { $0[0].reshaped([3, -1]) }
        checkGradients([[2, 3, 4]]) { $0[0].permuted([2, 0, 1]) }
        checkGradients([[2, 3, 4]]) { $0[0].transposed() }
        checkGradients([[2, 5, 3]]) { $0[0].slice(axis: 1, 1..<4) }
        checkGradients([[2, 2, 3], [2, 1, 3]]) { Tensor.concat([$0[0], $0[1]], axis: 1) }
        checkGradients([[5, 3]]) { $0[0].gather(rows: [4, 0, 4, 2]) }
    }

    @Test func normalisationAndSoftmax() {
        checkGradients([[3, 5], [5], [5]]) { $0[0].layerNorm(gamma: $0[1], beta: $0[2], eps: 1e-5) }
        checkGradients([[2, 19], [19], [19]]) { $0[0].layerNorm(gamma: $0[1], beta: $0[2], eps: 1e-5) }
        checkGradients([[3, 11]]) { $0[0].softmax() }
        checkGradients([[3, 5], [5]]) { $0[0].rmsNorm(gamma: $0[1]) }
        checkGradients([[3, 5]]) { $0[0].softmax() }
        checkGradients([[3, 5]]) { $0[0].logSoftmax() }
    }

    @Test func losses() {
        checkGradients([[4, 6]]) { Loss.crossEntropy($0[0], targets: [1, 5, -1, 0]) }
        checkGradients([[3, 13]]) { Loss.crossEntropy($0[0], targets: [12, 0, 7]) }
        checkGradients([[2, 5]]) { Loss.binaryCrossEntropyWithLogits($0[0], labels: [1, 0, 1, 1, 0, 0, 1, 0, 1, 0], weights: [1, 1, 0, 1, 2, 1, 1, 1, 1, 0]) }
    }

    @Test func attentionWithCausalAndPaddingMasks() {
        // No query row here has every key masked: such a row's scores all sit at -10000 + s,
        // where float32 keeps only about 1e-3 of s, so finite differences cannot see it.
        checkGradients([[2, 2, 4, 3], [2, 2, 4, 3], [2, 2, 4, 3]]) { t in
            var rng = SplitMix64(seed: 0)
            return Tensor.attention(
                q: t[0], k: t[1], v: t[2], causal: true,
                keyPadding: [[false, false, true, false], [false, true, false, false]], rng: &rng)
        }
        // Fewer queries than keys (a last-position query), with key padding.
        checkGradients([[2, 1, 1, 3], [2, 1, 4, 3], [2, 1, 4, 3]]) { t in
            var rng = SplitMix64(seed: 0)
            return Tensor.attention(
                q: t[0], k: t[1], v: t[2], causal: false,
                keyPadding: [[false, false, true, true], [false, false, false, false]], rng: &rng)
        }
        checkGradients([[1, 1, 3, 2], [1, 1, 3, 2], [1, 1, 3, 2]]) { t in
            var rng = SplitMix64(seed: 7)  // same mask on every call
            return Tensor.attention(q: t[0], k: t[1], v: t[2], causal: false, dropout: 0.3, training: true, rng: &rng)
        }
    }

    @Test func tokenMajorAttentionMatchesHeadMajor() {
        // [B, T, heads·d] with strided heads against [B, heads, T, d] built by permutes.
        var rng = SplitMix64(seed: 5)
        let (b, t, heads, d) = (2, 4, 2, 3)
        let q = Initializer.normal([b, t, heads * d], std: 1, rng: &rng), k = Initializer.normal([b, t, heads * d], std: 1, rng: &rng)
        let v = Initializer.normal([b, t, heads * d], std: 1, rng: &rng)
        func split(_ x: Tensor) -> Tensor { x.reshaped([b, t, heads, d]).permuted([0, 2, 1, 3]) }
        let padding = [[false, false, true, false], [false, true, false, false]]
        var r1 = SplitMix64(seed: 9), r2 = SplitMix64(seed: 9)
        let tokenMajor = Tensor.attention(
            q: q, k: k, v: v, heads: heads, causal: true, keyPadding: padding,
            dropout: 0.25, training: true, rng: &r1)
        let headMajor = Tensor.attention(
            q: split(q), k: split(k), v: split(v), causal: true, keyPadding: padding,
            dropout: 0.25, training: true, rng: &r2
        ).permuted([0, 2, 1, 3])
        for (x, y) in zip(tokenMajor.data, headMajor.data) { #expect(abs(x - y) < 1e-6) }
        checkGradients([[b, t, heads * d], [b, t, heads * d], [b, t, heads * d]]) { t in
            var rng = SplitMix64(seed: 0)
            return Tensor.attention(q: t[0], k: t[1], v: t[2], heads: heads, causal: true, keyPadding: padding, rng: &rng)
        }
        checkGradients([[b, 1, heads * d], [b, t, heads * d], [b, t, heads * d]]) { t in
            var rng = SplitMix64(seed: 0)
            return Tensor.attention(q: t[0], k: t[1], v: t[2], heads: heads, causal: false, keyPadding: padding, rng: &rng)
        }
    }

    @Test func fullyMaskedQueriesStayFinite() {
        // Left padding: query 0 sees only key 0, which is padding; it averages the values.
        var rng = SplitMix64(seed: 0)
        let v = Tensor(shape: [1, 1, 2, 1], data: [2, 4])
        let zero = Tensor.zeros([1, 1, 2, 1])
        let out = Tensor.attention(q: zero, k: zero, v: v, causal: true, keyPadding: [[true, false]], rng: &rng)
        #expect(out.data == [3, 4])
    }

    @Test func dropoutUsesOneSeededMask() {
        checkGradients([[4, 5]]) { t in
            var rng = SplitMix64(seed: 3)
            return t[0].dropout(0.5, training: true, rng: &rng)
        }
        var a = SplitMix64(seed: 3), b = SplitMix64(seed: 3)
        let x = Tensor(shape: [100], data: [Float](repeating: 1, count: 100))
        let y = x.dropout(0.5, training: true, rng: &a)
        #expect(y.data == x.dropout(0.5, training: true, rng: &b).data)
        #expect(Set(y.data) == [0, 2])
        #expect(x.dropout(0.5, training: false, rng: &a) === x)
    }

    @Test func attentionMatchesTheUnfusedComposition() {
        var rng = SplitMix64(seed: 2)
        let shape = [1, 2, 3, 4]
        let q = Initializer.normal(shape, std: 1, rng: &rng), k = Initializer.normal(shape, std: 1, rng: &rng)
        let v = Initializer.normal(shape, std: 1, rng: &rng)
        var unused = SplitMix64(seed: 0)
        let fused = Tensor.attention(q: q, k: k, v: v, causal: true, rng: &unused)
        let mask = Tensor(shape: [3, 3], data: [0, -10_000, -10_000, 0, 0, -10_000, 0, 0, 0])
        let composed = ((q.bmm(k, transposeB: true) * 0.5) + mask).softmax().bmm(v)
        for (a, b) in zip(fused.data, composed.data) { #expect(abs(a - b) < 1e-5) }
    }

    /// The fused layer against finite differences, and equal to the linear layer then ReLU in
    /// values and gradients.
    @Test func linearReLUIsTheLinearLayerThenReLU() {
        checkGradients([[5, 3], [3, 4], [4]]) { $0[0].linearReLU($0[1], $0[2]) }
        var rng = SplitMix64(seed: 6)
        let x = Initializer.normal([8, 3], std: 1, rng: &rng), w = Initializer.normal([3, 4], std: 1, rng: &rng), b = Initializer.normal([4], std: 1, rng: &rng)
        let fused = x.linearReLU(w, b)
        fused.sum().backward()
        let (fusedW, fusedB) = (w.grad!, b.grad!)
        w.zeroGrad()
        b.zeroGrad()
        let plain = x.linear(w, b).relu()
        plain.sum().backward()
        #expect(fused.data == plain.data && fusedW == w.grad! && fusedB == b.grad!)
        #expect(fused.data.contains(0) && fused.data.contains { $0 > 0 })
    }

    /// Each group's row added to its rows, against the repeated rows it stands for.
    @Test func groupRowsMatchTheirRepeatedForm() {
        checkGradients([[6, 4], [2, 4]]) { $0[0].addingGroupRows($0[1], groupSize: 3) }
        var rng = SplitMix64(seed: 4)
        let x = Initializer.normal([6, 4], std: 1, rng: &rng), rows = Initializer.normal([2, 4], std: 1, rng: &rng)
        #expect(x.addingGroupRows(rows, groupSize: 3).data == (x + rows.gather(rows: [0, 0, 0, 1, 1, 1])).data)
    }

    @Test func lookupGradientsReachTheSelectedRows() {
        let table = Tensor(shape: [6, 2], data: (0..<12).map(Float.init), requiresGrad: true)
        table.gather(rows: [1, 4, 1]).sum().backward()
        #expect(table.grad! == [0, 0, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0])
        // A padding row passes no gradient back through lookups.
        table.zeroGrad()
        table.gather(rows: [0, 3, 0], skipping: 0).sum().backward()
        #expect(table.grad! == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    }

    @Test func noGradRecordsNothing() {
        let w = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let y = Tensor.noGrad { w * w }
        #expect(!y.requiresGrad)
        #expect((w * w).requiresGrad)
    }
}

/// The fused layers of the CTR models, each against finite differences and a plain composition.
struct FieldLayerTests {
    @Test func embeddingBagsPoolWeightedRows() {
        // Bags: one row; two rows averaged; a numeric row scaled by 1.7; an empty bag.
        let rows: [Int32] = [2, 0, 3, 1], weights: [Float] = [1, 0.5, 0.5, 1.7], starts: [Int32] = [0, 1, 3, 4, 4]
        checkGradients([[4, 3]]) { $0[0].embeddingBag(rows: rows, weights: weights, starts: starts) }
        let table = Tensor(shape: [4, 2], data: [1, 2, 3, 4, 5, 6, 7, 8], requiresGrad: true)
        let bags = table.embeddingBag(rows: rows, weights: weights, starts: starts)
        for (x, y) in zip(bags.data, [5, 6, 4, 5, 3 * 1.7, 4 * 1.7, 0, 0] as [Float]) { #expect(abs(x - y) < 1e-6) }
        bags.sum().backward()
        for (x, y) in zip(table.grad!, [0.5, 0.5, 1.7, 1.7, 1, 1, 0.5, 0.5] as [Float]) { #expect(abs(x - y) < 1e-6) }
    }

    @Test func fmInteractionIsTheSumOfPairwiseDotProducts() {
        checkGradients([[2, 4, 3]]) { $0[0].fmInteraction() }
        var rng = SplitMix64(seed: 4)
        let x = Initializer.normal([2, 4, 3], std: 1, rng: &rng)
        let out = x.fmInteraction()
        for b in 0..<2 {
            var pairs: Float = 0
            for i in 0..<4 { for j in (i + 1)..<4 { for d in 0..<3 { pairs += x.data[(b * 4 + i) * 3 + d] * x.data[(b * 4 + j) * 3 + d] } } }
            #expect(abs(out.data[b] - pairs) < 1e-5)
        }
    }

    @Test func cinOuterProductAndPairwiseProducts() {
        checkGradients([[2, 3, 2], [2, 3, 4]]) { $0[0].fieldOuterProduct($0[1]) }
        let pairs = [(0, 1), (0, 2), (1, 2), (2, 2)]
        checkGradients([[2, 3, 4], [2, 3, 4]]) { $0[0].pairwiseProducts($0[1], pairs: pairs) }
        checkGradients([[2, 3, 4], [2, 3]]) { $0[0].scalingFields(by: $0[1]) }
        // The outer product against the broadcasting composition it replaces.
        var rng = SplitMix64(seed: 6)
        let a = Initializer.normal([2, 3, 2], std: 1, rng: &rng), b = Initializer.normal([2, 3, 4], std: 1, rng: &rng)
        let composed = (a.reshaped([2, 3, 2, 1]) * b.reshaped([2, 3, 1, 4])).reshaped([2, 3, 8])
        #expect(a.fieldOuterProduct(b).data == composed.data)
    }

    @Test func fieldAttentionMatchesTheBLASAttention() {
        checkGradients([[2, 3, 4], [2, 3, 4], [2, 3, 4]]) { Tensor.fieldAttention(q: $0[0], k: $0[1], v: $0[2], heads: 2) }
        var rng = SplitMix64(seed: 8)
        let (q, k, v) = (Initializer.normal([3, 5, 8], std: 1, rng: &rng), Initializer.normal([3, 5, 8], std: 1, rng: &rng), Initializer.normal([3, 5, 8], std: 1, rng: &rng))
        var unused = SplitMix64(seed: 0)
        let reference = Tensor.attention(q: q, k: k, v: v, heads: 2, causal: false, rng: &unused)
        for (a, b) in zip(Tensor.fieldAttention(q: q, k: k, v: v, heads: 2).data, reference.data) { #expect(abs(a - b) < 1e-5) }
        // More fields than one group of eight lanes, and heads of 8 (whole groups) and 3 values.
        checkGradients([[2, 10, 16], [2, 10, 16], [2, 10, 16]]) { Tensor.fieldAttention(q: $0[0], k: $0[1], v: $0[2], heads: 2) }
        checkGradients([[1, 9, 6], [1, 9, 6], [1, 9, 6]]) { Tensor.fieldAttention(q: $0[0], k: $0[1], v: $0[2], heads: 2) }
        let wide = (0..<3).map { _ in Initializer.normal([2, 11, 32], std: 1, rng: &rng) }
        let wideReference = Tensor.attention(q: wide[0], k: wide[1], v: wide[2], heads: 2, causal: false, rng: &unused)
        for (a, b) in zip(Tensor.fieldAttention(q: wide[0], k: wide[1], v: wide[2], heads: 2).data, wideReference.data) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func diceThroughBatchAndRunningStatistics() {
        checkGradients([[5, 3], [3]]) { $0[0].dice(alpha: $0[1]).output }
        checkGradients([[5, 3], [3]]) { $0[0].dice(alpha: $0[1], statistics: ([0.1, -0.2, 0.3], [1.5, 0.7, 2])).output }
        // With α = 1 Dice is the identity; with the batch's statistics the columns are centred.
        let x = Tensor(shape: [4, 1], data: [1, 2, 3, 6])
        let (identity, mean, variance) = x.dice(alpha: Tensor(shape: [1], data: [1]))
        #expect(identity.data == x.data && mean == [3] && variance == [3.5])
    }
}
