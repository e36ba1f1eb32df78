import Foundation
import RecCore
import RecStore

/// Texts for many entries (items or users) through an augmenter's batched path. Entries whose
/// text is stored under their key are restored; the rest are written `chunk` at a time, each
/// chunk stored in one transaction as it ends. The call cache has stored every finished call
/// before that, so a run killed inside a chunk repeats none of its finished calls.
///
/// With a `ledger`, the stage is recorded for its experiment and pipeline, and each chunk's
/// call keys are stored before its texts (`ResultStore.augmentCosts` reads them). With
/// `recount`, stored texts are asked for again, answered by the call cache: that records the
/// calls of texts written before calls were recorded per stage, and keeps the stored texts.
struct BulkAugmentation {
    /// Entries per batched call (`Runner.augmentChunk`).
    var chunk: Int
    var label: String
    var kind: String
    var store: ResultStore
    var progress: ProgressReporter
    var ledger: ResultStore.AugmentStage?
    var recount = false

    /// Every entry's text, and how many were written now.
    func run(keys: [String], artifactKind: String, write: ([Int]) throws -> [String]) throws -> (texts: [String], fresh: Int) {
        var texts = try keys.map { key in try store.artifact(key).map { String(decoding: $0, as: UTF8.self) } }
        let recount = recount && ledger != nil
        let missing = texts.indices.filter { recount || texts[$0] == nil }
        let fresh = texts.filter { $0 == nil }.count
        if var ledger {
            ledger.entries = keys.count
            try store.recordAugmentStage(ledger)
        }
        let started = Date(), usage = LanguageModelUsage.shared.current
        for start in stride(from: 0, to: missing.count, by: chunk) {
            let batch = Array(missing[start..<min(missing.count, start + chunk)])
            let (written, calls) = try store.recordingCalls { try write(batch) }
            guard written.count == batch.count else { throw RecError(.plugin, "augmenter '\(kind)' returned \(written.count) texts for \(batch.count) entries") }
            if let ledger { try store.recordStageCalls(stage: ledger.stage, calls: calls) }
            try store.putArtifacts(zip(batch, written).map { (keys[$0], Array($1.utf8)) }, kind: artifactKind)
            for (index, text) in zip(batch, written) where texts[index] == nil { texts[index] = text }
            let done = start + batch.count, elapsed = Date().timeIntervalSince(started)
            let now = LanguageModelUsage.shared.current
            let rate = String(
                format: "%.1f generated tokens/s, %d model calls, %d from the cache", Double(now.generatedTokens - usage.generatedTokens) / max(elapsed, 1e-9),
                now.calls - usage.calls, now.cached - usage.cached)
            progress.status("  \(label)", done: done, total: missing.count, started: started, detail: rate)
            // A line every 5 chunks too, for logs that are not terminals.
            if (start / chunk) % 5 == 4 || done == missing.count {
                progress.line(
                    "  \(label): \(done)/\(missing.count) \(recount ? "asked again" : "written"), \(ProgressReporter.clock(elapsed)) elapsed, ETA \(ProgressReporter.clock(elapsed / Double(done) * Double(missing.count - done))), \(rate)"
                )
            }
        }
        return (texts.map { $0! }, fresh)
    }
}
