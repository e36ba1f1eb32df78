import Foundation
import RecCore

/// What one cell cost, measured around it by the runner and stored beside its metrics.
///
/// Language-model tokens count every call the cell's components made, whether a model or the
/// call cache answered it (the cache keeps each call's tokens), so a cell's token cost does not
/// change when it is run again from the cache. Language-model seconds count only calls that
/// reached a model in the run that finished the cell.
public enum CellCost {
    public static let llmCalls = "llm_calls"
    public static let llmCached = "llm_cached"
    public static let promptTokens = "prompt_tokens"
    public static let generatedTokens = "generated_tokens"
    public static let llmSeconds = "llm_seconds"
    public static let trainSeconds = "train_seconds"
    public static let peakRSSBytes = "peak_rss_bytes"

    /// A measurement under way: the usage before the cell, with the peak-RSS mark reset.
    struct Meter {
        var usage = LanguageModelUsage.shared.current

        init() { CellCost.resetPeakRSS() }

        func finish(trainSeconds: Double) -> [(name: String, value: Double)] {
            let used = LanguageModelUsage.shared.current.since(usage)
            var out: [(String, Double)] = [
                (CellCost.llmCalls, Double(used.calls)), (CellCost.llmCached, Double(used.cached)),
                (CellCost.promptTokens, Double(used.promptTokens + used.cachedPromptTokens)),
                (CellCost.generatedTokens, Double(used.generatedTokens + used.cachedGeneratedTokens)),
                (CellCost.llmSeconds, used.seconds), (CellCost.trainSeconds, trainSeconds),
            ]
            if let peak = CellCost.peakRSS() { out.append((CellCost.peakRSSBytes, Double(peak))) }
            return out
        }
    }

    /// Resets the kernel's peak resident-set mark of this process (Linux: writing 5 to
    /// /proc/self/clear_refs), so the next reading of VmHWM is this cell's peak. Where that is
    /// not possible the peak is the process's since it started, which bounds the cell's.
    static func resetPeakRSS() {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
        try? handle.write(contentsOf: Data("5".utf8))
        try? handle.close()
    }

    /// The peak resident set of this process in bytes (VmHWM), nil where /proc is missing.
    static func peakRSS() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
            return kib * 1024
        }
        return nil
    }
}

/// Collects the per-epoch series a training loop reports (losses, validation metrics), for the
/// cell's learning curves.
final class CurveRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var points: [String: [Int: Double]] = [:]
    private var slotName = ""

    /// The pipeline slot whose training reports next (`ranker`, `augmenter`); its series are
    /// named after it (`ranker loss`). Empty, the default, for the retriever or scorer.
    var slot: String {
        get { lock.withLock { slotName } }
        set { lock.withLock { slotName = newValue } }
    }

    func record(_ event: TrainingEvent) {
        lock.withLock {
            let prefix = slotName.isEmpty ? "" : slotName + " "
            switch event {
            case .epochEnd(let epoch, _, let loss): points[prefix + "loss", default: [:]][epoch] = loss
            case .validation(let epoch, let metric, let value): points[prefix + "validation " + metric, default: [:]][epoch] = value
            case .message: break
            }
        }
    }

    /// Every series' points in epoch order, series sorted by name.
    var curves: [(series: String, step: Int, value: Double)] {
        lock.withLock {
            points.keys.sorted().flatMap { series in points[series]!.keys.sorted().map { (series, $0, points[series]![$0]!) } }
        }
    }

    /// The curves as stored beside a trained model in the stage cache, so a cell that restores
    /// the model keeps the curves of the training that made it.
    var encoded: [UInt8] {
        let rows = curves.map { [$0.series, String($0.step), String($0.value)] }
        return Array(((try? canonicalJSON(rows)) ?? "[]").utf8)
    }

    func restore(_ bytes: [UInt8]) {
        guard let rows = try? JSONDecoder().decode([[String]].self, from: Data(bytes)) else { return }
        lock.withLock {
            for row in rows where row.count == 3 {
                if let step = Int(row[1]), let value = Double(row[2]) { points[row[0], default: [:]][step] = value }
            }
        }
    }
}
