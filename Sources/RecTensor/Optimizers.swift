import Foundation
import RecCore

/// Adam (Kingma & Ba, 2015), and AdamW (Loshchilov & Hutter, 2019) when `decoupledWeightDecay`.
///
/// Adam adds `weightDecay * θ` to the gradient (L2, as `torch.optim.Adam`); AdamW multiplies
/// `θ` by `1 - lr * weightDecay` before the update (as `torch.optim.AdamW`).
public final class Adam {
    public let parameters: [Tensor]
    public var learningRate: Float
    public var beta1: Float, beta2: Float, epsilon: Float
    public var weightDecay: Float
    public var decoupledWeightDecay: Bool
    public private(set) var step = 0
    private var m: [[Float]], v: [[Float]]

    public init(
        parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        m = parameters.map { [Float](repeating: 0, count: $0.count) }
        v = m
    }

    /// Applies one update from the parameters' gradients (parameters without one are skipped).
    public func update() {
        step += 1
        let correction1 = 1 - pow(beta1, Float(step)), correction2 = 1 - pow(beta2, Float(step))
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            let (b1, b2, lr, eps, wd, decoupled) = (beta1, beta2, learningRate, epsilon, weightDecay, decoupledWeightDecay)
            m[index].withUnsafeMutableBufferPointer { m in
                v[index].withUnsafeMutableBufferPointer { v in
                    parameter.data.withUnsafeMutableBufferPointer { theta in
                        grad.withUnsafeBufferPointer { g in
                            let pointers = UncheckedSendable((m.baseAddress!, v.baseAddress!, theta.baseAddress!, g.baseAddress!))
                            let n = theta.count
                            // Element-wise, so blocks of a large tensor update on separate cores
                            // with the same result as in one pass.
                            let blocks = (n + Self.block - 1) / Self.block
                            parallelChunks(blocks) { chunk, chunks in
                                let (m, v, theta, g) = pointers.value
                                for block in stride(from: chunk, to: blocks, by: chunks) {
                                    let start = block * Self.block, count = min(Self.block, n - start)
                                    Self.step(
                                        m: m + start, v: v + start, theta: theta + start, g: g + start, count: count,
                                        constants: (b1, b2, lr, eps, wd, decoupled, correction1, correction2))
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Values per block of a parallel update.
    static let block = 1 << 16

    /// Adam's update of `count` values. A plain loop, which the compiler vectorises whole
    /// (square root and division included); the generic SIMD square root runs lane by lane.
    /// A weight decay that does not apply enters as the exact identities `t · 1` and `g + 0 · t`.
    @inline(__always)
    static func step(
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, theta: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>,
        count n: Int, constants: (Float, Float, Float, Float, Float, Bool, Float, Float)
    ) {
        let (b1, b2, lr, eps, wd, decoupled, correction1, correction2) = constants
        let decay: Float = decoupled ? 1 - lr * wd : 1, coupled: Float = decoupled ? 0 : wd
        for i in 0..<n {
            var t = theta[i] * decay
            let gi = g[i] + coupled * t
            let mi = b1 * m[i] + (1 - b1) * gi
            let vi = b2 * v[i] + (1 - b2) * gi * gi
            t -= lr * (mi / correction1) / ((vi / correction2).squareRoot() + eps)
            m[i] = mi
            v[i] = vi
            theta[i] = t
        }
    }

    public func zeroGrad() { for parameter in parameters { parameter.zeroGrad() } }

    /// The moment estimates and the step count as tensors named under `prefix` (for a
    /// checkpoint from which training resumes exactly).
    public func state(prefix: String) -> [String: Tensor] {
        var out = ["\(prefix)step": Tensor(shape: [1], data: [Float(step)])]
        for index in parameters.indices {
            out["\(prefix)m.\(index)"] = Tensor(shape: [m[index].count], data: m[index])
            out["\(prefix)v.\(index)"] = Tensor(shape: [v[index].count], data: v[index])
        }
        return out
    }

    /// Takes back what `state(prefix:)` wrote, for the same parameter list.
    public func restore(_ tensors: [String: Tensor], prefix: String) throws {
        guard let saved = tensors["\(prefix)step"]?.data.first, saved >= 0, saved == saved.rounded() else {
            throw RecError(.data, "optimiser state: the step count is missing")
        }
        for index in parameters.indices {
            guard let first = tensors["\(prefix)m.\(index)"]?.data, let second = tensors["\(prefix)v.\(index)"]?.data,
                first.count == m[index].count, second.count == v[index].count
            else { throw RecError(.data, "optimiser state: the moments of parameter \(index) are missing or of another size") }
            m[index] = first
            v[index] = second
        }
        step = Int(saved)
    }
}

/// Scales all gradients down so that their joint L2 norm is at most `maxNorm`.
/// - Returns: the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for parameter in parameters { for g in parameter.grad ?? [] { total += Double(g) * Double(g) } }
    let norm = Float(total.squareRoot())
    if norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        for parameter in parameters where parameter.grad != nil {
            parameter.grad!.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= scale } }
        }
    }
    return norm
}

/// Learning-rate schedules: the rate at a 0-based step.
public enum LearningRateSchedule: Sendable, Equatable {
    case constant
    /// Linear from 0 to the base rate over `warmup` steps, then constant.
    case linearWarmup(warmup: Int)
    /// Linear warm-up, then cosine decay to `floor` times the base rate at `total` steps.
    case cosine(warmup: Int, total: Int, floor: Float)

    public func rate(_ base: Float, step: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .linearWarmup(let warmup):
            return step < warmup ? base * Float(step + 1) / Float(warmup) : base
        case .cosine(let warmup, let total, let floor):
            if step < warmup { return base * Float(step + 1) / Float(warmup) }
            let progress = min(1, Float(step - warmup) / Float(max(1, total - warmup)))
            return base * (floor + (1 - floor) * 0.5 * (1 + cos(Float.pi * progress)))
        }
    }
}
