import RecCore
import Testing

@testable import RecRunner

/// What a training loop reports becomes the cell's learning curves, and survives the trip
/// through the stage cache beside the trained model.
struct CurveRecorderTests {
    @Test func lossesAndValidationMetricsBecomeSeriesAndRestore() {
        let recorder = CurveRecorder()
        for epoch in 1...3 {
            recorder.record(.epochEnd(epoch: epoch, of: 3, loss: 1 / Double(epoch)))
            recorder.record(.validation(epoch: epoch, metric: "ndcg@10", value: 0.1 * Double(epoch)))
            recorder.record(.message("ignored"))
        }
        let curves = recorder.curves
        #expect(curves.filter { $0.series == "loss" }.map(\.step) == [1, 2, 3])
        #expect(curves.filter { $0.series == "validation ndcg@10" }.map(\.value) == [0.1, 0.2, 0.30000000000000004])
        let restored = CurveRecorder()
        restored.restore(recorder.encoded)
        #expect(restored.curves.map { "\($0.series)|\($0.step)|\($0.value)" } == curves.map { "\($0.series)|\($0.step)|\($0.value)" })
        restored.restore(Array("not json".utf8))
        #expect(restored.curves.count == 6, "unreadable stored curves are ignored")
        // A ranker fine-tuned after the retriever keeps its own series.
        restored.slot = "ranker"
        restored.record(.epochEnd(epoch: 1, of: 1, loss: 9))
        #expect(restored.curves.first { $0.series == "loss" && $0.step == 1 }?.value == 1)
        #expect(restored.curves.contains { $0.series == "ranker loss" && $0.value == 9 })
    }
}
