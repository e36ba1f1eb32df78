import Foundation

/// Early stopping on a validation metric (higher is better unless `higherIsBetter` is false):
/// keeps the best epoch's snapshot of the model and says when `patience` epochs have passed
/// without a better value (patience 0 never stops early). Every trainer that selects an epoch
/// on validation uses it.
public struct EarlyStopping<Snapshot> {
    public let patience: Int
    public let metric: String
    public let higherIsBetter: Bool
    /// The best epoch so far: its value, its number and the model as it was then.
    public private(set) var best: (value: Double, epoch: Int, snapshot: Snapshot)?

    public init(patience: Int, metric: String, higherIsBetter: Bool = true) {
        self.patience = patience
        self.metric = metric
        self.higherIsBetter = higherIsBetter
    }

    /// Records `epoch`'s validation value, taking `snapshot()` only when it is the best yet
    /// (the first value always is).
    /// - Returns: whether to stop training now.
    public mutating func record(_ value: Double, epoch: Int, snapshot: () -> Snapshot) -> Bool {
        if let best, !(higherIsBetter ? value > best.value : value < best.value) {
            return patience > 0 && epoch - best.epoch >= patience
        }
        best = (value, epoch, snapshot())
        return false
    }

    /// What a trainer reports when it stops.
    public var stopMessage: String {
        guard let best else { return "stopped early" }
        return "early stop: best validation \(metric) \(String(format: "%.4f", best.value)) at epoch \(best.epoch)"
    }
}
