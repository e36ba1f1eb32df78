import COpenBLAS
import RecCore

/// Embarrassingly Shallow Autoencoder: a closed-form item-item model.
///
/// **Paper:** Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
///
/// `P = (XᵀX + λI)⁻¹`, `B = -P / diag(P)` column-wise with `diag(B) = 0`; a user's scores are
/// `x_u B`. The inverse goes through LAPACK's Cholesky (`spotrf`/`spotri` from OpenBLAS) and the
/// scores through `cblas_sgemm`.
///
/// **Deviations:** single precision throughout (the paper's code uses float64 NumPy); with
/// λ in the usual hundreds the Gram matrix is well conditioned enough for float32.
///
/// ```yaml
/// retriever: { type: ease, l2: 250 }
/// ```
public struct EASE: Retriever, Trainable {
    public struct Configuration: Codable, Sendable, Equatable {
        /// The L2 penalty λ added to the diagonal of the Gram matrix.
        public var l2: Double = 250

        enum CodingKeys: String, CodingKey, CaseIterable { case l2 }

        public init(l2: Double = 250) { self.l2 = l2 }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            l2 = try c.decode(.l2, default: 250, in: 1e-9...1e12)
        }
    }

    public static let kind = "ease"
    public static let summary = "EASE closed-form item-item autoencoder (Steck, WWW 2019)"
    public let configuration: Configuration
    /// B, row-major [items, items].
    private var weights: [Float] = []
    private var itemCount = 0

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        let n = data.itemCount
        itemCount = n
        guard n * n <= 1 << 30 else {
            throw RecError(.plugin, "EASE needs an items x items matrix; \(n) items would take \(n * n * 4 >> 20) MiB")
        }
        // Gram matrix XᵀX from the sparse histories (binary, duplicates counted once).
        var gram = [Float](repeating: 0, count: n * n)
        for history in data.history {
            let items = Array(Set(history)).sorted().map(Int.init)
            for i in items { for j in items { gram[i * n + j] += 1 } }
        }
        let lambda = Float(configuration.l2)
        for i in 0..<n { gram[i * n + i] += lambda }
        // Invert the symmetric positive-definite matrix in place: Cholesky, then the inverse.
        // LAPACK is column-major; the matrix is symmetric, so "L" here is the upper triangle in
        // row-major order.
        var order = Int32(n), info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "L"))
        spotrf_(&uplo, &order, &gram, &order, &info)
        guard info == 0 else { throw RecError(.plugin, "EASE: the Gram matrix is not positive definite (spotrf info \(info)); raise l2") }
        spotri_(&uplo, &order, &gram, &order, &info)
        guard info == 0 else { throw RecError(.plugin, "EASE: inversion failed (spotri info \(info))") }
        // spotri fills the lower triangle in column-major order = the upper triangle of our
        // row-major buffer (j >= i); mirror it.
        for i in 0..<n { for j in 0..<i { gram[i * n + j] = gram[j * n + i] } }
        var b = gram
        for j in 0..<n {
            let diagonal = gram[j * n + j]
            for i in 0..<n { b[i * n + j] = -gram[i * n + j] / diagonal }
            b[j * n + j] = 0
        }
        weights = b
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        let n = itemCount
        var rows = [Float](repeating: 0, count: users.count * n)
        for (row, user) in users.enumerated() { for item in history[Int(user)] { rows[row * n + Int(item)] = 1 } }
        // [users, n] x [n, n] -> [users, n]
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(users.count), Int32(n), Int32(n),
            1, rows, Int32(n), weights, Int32(n), 0, scores.baseAddress, Int32(n))
    }
}
