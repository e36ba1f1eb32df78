import Foundation
import RecCore
import RecTensor

/// Trains a deep CTR model on labelled pairs: shuffled batches (seeded), binary cross-entropy,
/// AdamW (decoupled weight decay) with a cosine or constant learning rate, and early stopping
/// on validation AUC, keeping the best epoch's parameters.
struct DeepCTRTrainer {
    var configuration: DeepCTRConfiguration

    /// Shares each batch is split into; fixed, so that the split does not depend on the core
    /// count (every product then runs with BLAS single-threaded, one share per core).
    static let shares = 2

    /// Trains `state`; `replicas` are `shares` more instances of the same model, which compute
    /// the shares' gradients in parallel.
    func train(_ state: inout DeepCTRState, replicas: [DeepCTRState], on data: TrainingSet, context: TrainingContext) throws {
        let training = configuration.training
        let samples = data.interactions
        let labels = samples.map { data.label($0) }
        let validationLabels = data.validation.map { data.label($0) }
        let canValidate = !data.validation.isEmpty && Set(validationLabels).count == 2
        let length = state.network.behaviourLength
        let timeline = length > 0 ? data.timeline : nil
        let behaviour = timeline.map { timeline in samples.map { timeline.before($0, limit: length) } }
        let validationBehaviour = timeline.map { timeline in data.validation.map { timeline.before($0, limit: length) } }
        // Listed once: a model's `parameters` builds its names on every call.
        let parameters = state.parameters.map(\.1)
        let replicaParameters = replicas.map { $0.parameters.map(\.1) }
        let optimiser = Adam(
            parameters: parameters.filter(\.requiresGrad), learningRate: Float(training.learningRate), weightDecay: Float(training.weightDecay),
            decoupledWeightDecay: true)
        let batchesPerEpoch = (samples.count + training.batchSize - 1) / training.batchSize
        let schedule: LearningRateSchedule =
            configuration.schedule == .cosine ? .cosine(warmup: 0, total: max(1, training.epochs * batchesPerEpoch), floor: 0) : .constant
        var rng = SplitMix64(seed: context.seed).derived("ctr-shuffle")
        var dropoutRNG = SplitMix64(seed: context.seed).derived("ctr-dropout")
        var order = Array(samples.indices)
        var stopping = EarlyStopping<[[Float]]>(patience: training.patience, metric: "auc")
        var step = 0
        for epoch in 1...max(1, training.epochs) where training.epochs > 0 {
            order.shuffle(using: &rng)
            var lossSum = 0.0
            for start in stride(from: 0, to: order.count, by: training.batchSize) {
                let indices = Array(order[start..<min(order.count, start + training.batchSize)])
                let loss = try optimiseStep(
                    parameters, replicas: replicas, replicaParameters: replicaParameters, count: indices.count, seed: dropoutRNG.next(),
                    optimiser: optimiser, rate: schedule.rate(Float(training.learningRate), step: step)
                ) { range, replica, rng in
                    let share = Array(indices[range])
                    let batch = replica.embedding.batch(
                        users: share.map { samples[$0].user }, items: share.map { samples[$0].item }, behaviour: behaviour.map { b in share.map { b[$0] } },
                        length: length, training: true, rng: &rng)
                    let logits = replica.network.logits(batch, training: true, rng: &rng)
                    return Loss.binaryCrossEntropyWithLogits(logits, labels: share.map { labels[$0] }) * (Float(share.count) / Float(indices.count))
                }
                guard loss.isFinite else { throw RecError(.plugin, "training diverged at epoch \(epoch) (loss \(loss)); lower learning_rate") }
                lossSum += loss * Double(indices.count)
                step += 1
            }
            context.report(.epochEnd(epoch: epoch, of: training.epochs, loss: lossSum / Double(max(1, samples.count))))
            guard canValidate else { continue }
            let predictions = state.predict(users: data.validation.map(\.user), items: data.validation.map(\.item), behaviour: validationBehaviour)
            let auc = CTRTrainer.auc(predictions, labels: validationLabels)
            context.report(.validation(epoch: epoch, metric: "auc", value: auc))
            if stopping.record(auc, epoch: epoch, snapshot: { state.snapshot }) {
                context.report(.message(stopping.stopMessage))
                break
            }
        }
        if let best = stopping.best { state.load(best.snapshot) }
    }

    /// One optimiser step on a batch of `count` samples, split into `shares` parts: each replica
    /// copies the parameters, builds its part's graph and gradients (BLAS single-threaded
    /// meanwhile, the parts on separate cores), the gradients are summed in share order and
    /// AdamW updates the parameters once; buffers (Dice's running statistics) take the
    /// replicas' mean. `loss` returns a part's share of the batch's mean loss.
    /// - Returns: the batch's mean loss.
    private func optimiseStep(
        _ master: [Tensor], replicas: [DeepCTRState], replicaParameters: [[Tensor]], count: Int, seed: UInt64, optimiser: Adam, rate: Float,
        _ loss: @escaping @Sendable (Range<Int>, DeepCTRState, inout SplitMix64) -> Tensor
    ) throws -> Double {
        let shares = replicas.count
        let bounds = (0...shares).map { $0 * count / shares }
        for replica in replicaParameters {
            for (source, target) in zip(master, replica) {
                target.data = source.data
                target.zeroGrad()
            }
        }
        let losses = UncheckedSendable(UnsafeMutableBufferPointer<Double>.allocate(capacity: shares))
        defer { losses.value.deallocate() }
        BLASThreads.single {
            parallelChunks(shares) { chunk, chunks in
                for share in stride(from: chunk, to: shares, by: chunks) {
                    var rng = SplitMix64(seed: seed).derived("share \(share)")
                    let value = loss(bounds[share]..<bounds[share + 1], replicas[share], &rng)
                    value.backward()
                    losses.value[share] = Double(value.item)
                }
            }
        }
        optimiser.zeroGrad()
        for (index, parameter) in master.enumerated() {
            if parameter.requiresGrad {
                for replica in replicaParameters { if let grad = replica[index].grad { parameter.accumulate(grad) } }
            } else {
                var mean = [Float](repeating: 0, count: parameter.count)
                for replica in replicaParameters { for (i, value) in replica[index].data.enumerated() { mean[i] += value / Float(shares) } }
                parameter.data = mean
            }
        }
        // The replicas' copies share the parameters' storage; dropped, the update writes it in
        // place instead of copying every parameter first. The next step copies them in again.
        for replica in replicaParameters { for tensor in replica { tensor.data = [] } }
        optimiser.learningRate = rate
        optimiser.update()
        return losses.value.reduce(0, +)
    }
}
