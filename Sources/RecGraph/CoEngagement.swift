import COpenBLAS

/// The item co-engagement graph: items linked through the users they share.
public enum CoEngagement {
    /// `[items, items]` row-major: how many users engaged with both items (the diagonal: with
    /// the item), a user counting once per pair however often they engaged. Computed as `AᵀA`
    /// for the binary user × item matrix `A`, by `sgemm` (counts below 2²⁴ are exact in Float).
    public static func counts(histories: [[Int32]], itemCount n: Int) -> [Double] {
        let users = histories.count
        guard n > 0, users > 0 else { return [Double](repeating: 0, count: n * n) }
        var a = [Float](repeating: 0, count: users * n)
        for (u, history) in histories.enumerated() { for item in history where Int(item) < n && item >= 0 { a[u * n + Int(item)] = 1 } }
        var c = [Float](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(n), Int32(users), 1, ap.baseAddress!, Int32(n), ap.baseAddress!, Int32(n), 0, cp.baseAddress!, Int32(n))
            }
        }
        return c.map(Double.init)
    }
}
