import Foundation
import RecCore
import RecTensor

/// Trains a deep CTR model on labelled pairs: shuffled batches (seeded), binary cross-entropy,
/// AdamW (decoupled weight decay) with a cosine or constant learning rate, and early stopping
/// on validation AUC, keeping the best epoch's parameters.
struct DeepCTRTrainer {
    var configuration: DeepCTRConfiguration

    func train(_ state: inout DeepCTRState, on data: TrainingSet, context: TrainingContext) throws {
        let training = configuration.training
        let samples = data.interactions
        let labels = samples.map { data.label($0) }
        let validationLabels = data.validation.map { data.label($0) }
        let canValidate = !data.validation.isEmpty && Set(validationLabels).count == 2
        let length = state.network.behaviourLength
        let timeline = length > 0 ? data.timeline : nil
        let behaviour = timeline.map { timeline in samples.map { timeline.before($0, limit: length) } }
        let validationBehaviour = timeline.map { timeline in data.validation.map { timeline.before($0, limit: length) } }
        let parameters = state.parameters.map(\.1)
        let optimiser = Adam(
            parameters: parameters.filter(\.requiresGrad), learningRate: Float(training.learningRate), weightDecay: Float(training.weightDecay),
            decoupledWeightDecay: true)
        let batchesPerEpoch = (samples.count + training.batchSize - 1) / training.batchSize
        let schedule: LearningRateSchedule =
            configuration.schedule == .cosine ? .cosine(warmup: 0, total: max(1, training.epochs * batchesPerEpoch), floor: 0) : .constant
        var rng = SplitMix64(seed: context.seed).derived("ctr-shuffle")
        var dropoutRNG = SplitMix64(seed: context.seed).derived("ctr-dropout")
        var order = Array(samples.indices)
        var best = (auc: -Double.infinity, epoch: 0, snapshot: state.snapshot)
        var step = 0
        for epoch in 1...max(1, training.epochs) where training.epochs > 0 {
            order.shuffle(using: &rng)
            var lossSum = 0.0
            for start in stride(from: 0, to: order.count, by: training.batchSize) {
                let indices = order[start..<min(order.count, start + training.batchSize)]
                let batch = state.embedding.batch(
                    users: indices.map { samples[$0].user }, items: indices.map { samples[$0].item }, behaviour: behaviour.map { b in indices.map { b[$0] } },
                    length: length)
                let logits = state.network.logits(batch, training: true, rng: &dropoutRNG)
                let loss = Loss.binaryCrossEntropyWithLogits(logits, labels: indices.map { labels[$0] })
                guard loss.item.isFinite else {
                    throw RecError(.plugin, "training diverged at epoch \(epoch) (loss \(loss.item)); lower learning_rate")
                }
                lossSum += Double(loss.item) * Double(indices.count)
                loss.backward()
                optimiser.learningRate = schedule.rate(Float(training.learningRate), step: step)
                optimiser.update()
                optimiser.zeroGrad()
                step += 1
            }
            context.report(.epochEnd(epoch: epoch, of: training.epochs, loss: lossSum / Double(max(1, samples.count))))
            guard canValidate else { continue }
            let predictions = state.predict(users: data.validation.map(\.user), items: data.validation.map(\.item), behaviour: validationBehaviour)
            let auc = CTRTrainer.auc(predictions, labels: validationLabels)
            context.report(.validation(epoch: epoch, metric: "auc", value: auc))
            if auc > best.auc {
                best = (auc, epoch, state.snapshot)
            } else if training.patience > 0 && epoch - best.epoch >= training.patience {
                context.report(.message("stopped early; keeping epoch \(best.epoch)"))
                break
            }
        }
        if canValidate && best.epoch > 0 { state.load(best.snapshot) }
    }
}
