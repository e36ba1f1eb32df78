import RecCore

extension EvaluationResult {
    /// Adds every per-user metric again as `subset:metric` (for example `cold:recall@10`):
    /// its per-user values kept for the users at `indices` and NaN for the others, so that
    /// paired tests compare the subset, and its aggregate the mean over the subset (users
    /// whose value is undefined left out). Adds nothing when `indices` is empty.
    public mutating func addSubset(_ subset: String, indices: [Int]) {
        guard !indices.isEmpty else { return }
        for (key, values) in perUser {
            var kept = [Double](repeating: .nan, count: values.count)
            for index in indices { kept[index] = values[index] }
            let defined = indices.map { values[$0] }.filter { !$0.isNaN }
            let named = MetricKey("\(subset):\(key.name)", key.k)
            perUser[named] = kept
            aggregate[named] = defined.isEmpty ? .nan : defined.reduce(0, +) / Double(defined.count)
        }
    }
}
