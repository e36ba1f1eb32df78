import Foundation
import RecCore
import Testing

@testable import RecTensor

@Suite struct VectorMathTests {
    /// Every `step`-th float in [low, high], eight at a time.
    func sweep(_ low: Float, _ high: Float, count: Int, _ check: (Float, Float) -> Void, _ f: (Lanes) -> Lanes) {
        var x = [Float](repeating: 0, count: 8)
        for i in stride(from: 0, to: count, by: 8) {
            for j in 0..<8 { x[j] = low + (high - low) * Float(i + j) / Float(count - 1) }
            let y = f(Lanes(x))
            for j in 0..<8 { check(x[j], y[j]) }
        }
    }

    @Test func expMatchesLibm() {
        var worst: Float = 0
        sweep(
            -87, 88, count: 200_000,
            { x, y in
                let reference = Foundation.exp(Double(x))
                worst = max(worst, Float(abs(Double(y) - reference) / reference))
            }, vexp)
        #expect(worst < 3e-7)  // about 2 ulp
        let edges = vexp(Lanes(0, 1, -1, -87.4, -100, -.infinity, 89, 10))
        #expect(edges[0] == 1)
        #expect(edges[3] == 0 && edges[4] == 0 && edges[5] == 0)
        #expect(edges[6].isFinite)  // clamped, not infinity
        #expect(abs(edges[7] - 22026.465) / 22026.465 < 3e-7)
    }

    @Test func erfMatchesLibm() {
        var worst: Float = 0
        sweep(-6, 6, count: 100_000, { x, y in worst = max(worst, Float(abs(Double(y) - Foundation.erf(Double(x))))) }, { verf($0).erf })
        #expect(worst < 6e-7)  // the formula's 1.5e-7 plus float32 rounding
        let (erf, gaussian) = verf(Lanes(0, 0.5, -0.5, 3, -3, 10, -10, 1))
        #expect(erf[0] == 0 && erf[1] == -erf[2] && erf[5] == 1 && erf[6] == -1)
        #expect(abs(gaussian[7] - Float(Foundation.exp(-1.0))) < 1e-7)
    }

    @Test func softmaxAndLogSumExpOverUnevenRows() {
        // 11 values: one full group of eight and a padded tail of three.
        var row: [Float] = [3, -1, 0.5, 2, 7, -4, 0, 1, 9, -10_000, 2.5]
        let reference = row.map { Foundation.exp(Double($0)) }
        let total = reference.reduce(0, +)
        let lse = row.withUnsafeBufferPointer { logSumExp($0.baseAddress!, $0.count) }
        #expect(abs(Double(lse) - Foundation.log(total)) < 1e-5)
        row.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, $0.count) }
        for (p, e) in zip(row, reference) { #expect(abs(Double(p) - e / total) < 1e-6) }
    }
}
