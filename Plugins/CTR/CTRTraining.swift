import Foundation
import RecCore

/// The training settings LR and FM share, with RecBole's context-aware defaults (Adam, lr
/// 0.001, batch 2048) and early stopping on validation AUC.
public struct CTRTrainingConfiguration: Codable, Sendable, Equatable {
    /// Feature fields to read; empty means every non-text field but zip codes (see FieldLayout).
    public var fields: [String] = []
    public var epochs: Int = 20
    public var batchSize: Int = 2048
    public var learningRate: Double = 0.001
    /// L2 penalty added to the gradient (Adam's `weight_decay`, as in PyTorch).
    public var weightDecay: Double = 0
    /// Epochs without a better validation AUC before training stops (0: never stop early).
    /// The parameters of the best epoch are kept.
    public var patience: Int = 3

    enum CodingKeys: String, CodingKey, CaseIterable { case fields, epochs, batchSize, learningRate, weightDecay, patience }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fields = try c.decode(.fields, default: [])
        if let repeated = fields.indices.first(where: { fields[..<$0].contains(fields[$0]) }) {
            throw DecodingError.dataCorruptedError(forKey: .fields, in: c, debugDescription: "field '\(fields[repeated])' is listed twice")
        }
        epochs = try c.decode(.epochs, default: 20, in: 0...10_000)
        batchSize = try c.decode(.batchSize, default: 2048, in: 1...1_000_000)
        learningRate = try c.decode(.learningRate, default: 0.001, in: 1e-9...10)
        weightDecay = try c.decode(.weightDecay, default: 0, in: 0...10)
        patience = try c.decode(.patience, default: 3, in: 0...10_000)
    }
}

/// Trains an `FMModel` with binary cross-entropy on labelled pairs.
struct CTRTrainer {
    var configuration: CTRTrainingConfiguration
    var layout: FieldLayout

    func pair(user: Int32, item: Int32) -> FMModel.Fields {
        let users = layout.userTokens[Int(user)], items = layout.itemTokens[Int(item)]
        return (users, items, users.indices.map { layout.isMulti(.user, $0) }, items.indices.map { layout.isMulti(.item, $0) })
    }

    /// Probabilities for pairs.
    func predict(_ model: FMModel, users: [Int32], items: [Int32]) -> [Float] {
        var scratch: [Float] = []
        let userMulti = (0..<layout.fields.filter { $0.source == .user }.count).map { layout.isMulti(.user, $0) }
        let itemMulti = (0..<layout.fields.filter { $0.source == .item }.count).map { layout.isMulti(.item, $0) }
        return zip(users, items).map { user, item in
            let fields: FMModel.Fields = (layout.userTokens[Int(user)], layout.itemTokens[Int(item)], userMulti, itemMulti)
            return 1 / (1 + exp(-model.logit(fields, scratch: &scratch)))
        }
    }

    /// Adam over every parameter (dense, as PyTorch steps every embedding row each batch).
    func train(_ model: inout FMModel, on data: TrainingSet, context: TrainingContext) {
        let samples = data.interactions
        let labels = samples.map { data.label($0) }
        let validationLabels = data.validation.map { data.label($0) }
        let canValidate = !data.validation.isEmpty && Set(validationLabels).count == 2
        var rng = SplitMix64(seed: context.seed).derived("ctr-shuffle")
        var order = Array(samples.indices)
        var m = model.zeros, v = model.zeros
        var step = 0
        var stopping = EarlyStopping<FMModel>(patience: configuration.patience, metric: "auc")
        var scratch: [Float] = []
        let lr = Float(configuration.learningRate), decay = Float(configuration.weightDecay)
        let (beta1, beta2, epsilon): (Float, Float, Float) = (0.9, 0.999, 1e-8)
        let userMulti = (0..<layout.fields.filter { $0.source == .user }.count).map { layout.isMulti(.user, $0) }
        let itemMulti = (0..<layout.fields.filter { $0.source == .item }.count).map { layout.isMulti(.item, $0) }
        for epoch in 1...max(1, configuration.epochs) where configuration.epochs > 0 {
            order.shuffle(using: &rng)
            var lossSum = 0.0
            for start in stride(from: 0, to: order.count, by: configuration.batchSize) {
                let batch = order[start..<min(order.count, start + configuration.batchSize)]
                var gradient = model.zeros
                for index in batch {
                    let event = samples[index]
                    let fields: FMModel.Fields = (layout.userTokens[Int(event.user)], layout.itemTokens[Int(event.item)], userMulti, itemMulti)
                    let logit = model.logit(fields, scratch: &scratch)
                    let p = 1 / (1 + exp(-logit))
                    lossSum += Double(logit > 0 ? (1 - labels[index]) * logit + log1p(exp(-logit)) : -labels[index] * logit + log1p(exp(logit)))
                    model.accumulate(fields, scale: (p - labels[index]) / Float(batch.count), scratch: scratch, into: &gradient)
                }
                step += 1
                let correction1 = 1 - pow(beta1, Float(step)), correction2 = 1 - pow(beta2, Float(step))
                func update(_ theta: inout [Float], _ g: [Float], _ m: inout [Float], _ v: inout [Float]) {
                    for i in theta.indices {
                        let grad = g[i] + decay * theta[i]
                        m[i] = beta1 * m[i] + (1 - beta1) * grad
                        v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
                        theta[i] -= lr * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + epsilon)
                    }
                }
                var bias = [model.bias], mb = [m.bias], vb = [v.bias]
                update(&bias, [gradient.bias], &mb, &vb)
                (model.bias, m.bias, v.bias) = (bias[0], mb[0], vb[0])
                update(&model.linear, gradient.linear, &m.linear, &v.linear)
                update(&model.embeddings, gradient.embeddings, &m.embeddings, &v.embeddings)
            }
            context.report(.epochEnd(epoch: epoch, of: configuration.epochs, loss: lossSum / Double(max(1, samples.count))))
            guard canValidate else { continue }
            let predictions = predict(model, users: data.validation.map(\.user), items: data.validation.map(\.item))
            let auc = Self.auc(predictions, labels: validationLabels)
            context.report(.validation(epoch: epoch, metric: "auc", value: auc))
            if stopping.record(auc, epoch: epoch, snapshot: { model }) {
                context.report(.message(stopping.stopMessage))
                break
            }
        }
        if let best = stopping.best { model = best.snapshot }
    }

    /// AUC over all pairs (ties count half), for early stopping.
    static func auc(_ scores: [Float], labels: [Float]) -> Double {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0, positives = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for index in order[i...j] where labels[index] > 0.5 { rankSum += rank; positives += 1 }
            i = j + 1
        }
        let negatives = Double(scores.count) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }
}

extension CTRTrainer {
    /// Lays out the fields over the training data, initialises a model from the context's seed
    /// and trains it: what `fit` is for LR (no factors) and FM.
    static func fit(factors: Int, _ configuration: CTRTrainingConfiguration, data: TrainingSet, context: TrainingContext) throws -> (FieldLayout, FMModel) {
        guard data.labelRule != nil else {
            throw RecError(.plugin, "CTR models train on labelled pairs; set a label rule under data (label: rating > 3)")
        }
        let names = configuration.fields.isEmpty ? FieldLayout.defaultFields(users: data.userFeatures, items: data.itemFeatures) : configuration.fields
        let layout = try FieldLayout(fieldNames: names, userCount: data.userCount, itemCount: data.itemCount, users: data.userFeatures, items: data.itemFeatures)
        var initialiser = SplitMix64(seed: context.seed).derived("ctr-init")
        var model = FMModel(rows: layout.rowCount, factors: factors, seed: initialiser.next())
        context.report(.message("\(data.interactions.count) training pairs, fields \(names.joined(separator: ", ")), \(layout.rowCount) feature rows"))
        CTRTrainer(configuration: configuration, layout: layout).train(&model, on: data, context: context)
        return (layout, model)
    }

    static func checkpoint(_ layout: FieldLayout?, _ model: FMModel?, name: String) throws -> [UInt8] {
        guard let layout, let model else { throw RecError(.plugin, "\(name) has no trained state to checkpoint") }
        var writer = CheckpointWriter()
        layout.write(to: &writer)
        model.write(to: &writer)
        return writer.bytes
    }

    static func restore(_ bytes: [UInt8], name: String, factors: Int) throws -> (FieldLayout, FMModel) {
        var reader = CheckpointReader(bytes, model: name)
        let layout = try FieldLayout(from: &reader)
        let model = try FMModel(from: &reader, rows: layout.rowCount)
        try reader.finish()
        guard model.factors == factors else { throw RecError(.plugin, "\(name) checkpoint has \(model.factors) factors, the configuration \(factors)") }
        return (layout, model)
    }
}
