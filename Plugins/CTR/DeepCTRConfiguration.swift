import RecCore

/// The settings every deep CTR model shares (DeepFM, xDeepFM, DCNv2, AutoInt, FiBiNet, DIN),
/// with KAR's defaults: field embeddings of 32, a final MLP of [200, 80], AdamW with a cosine
/// schedule, batch 2048, up to 20 epochs, early stopping on validation AUC with patience 3.
public struct DeepCTRConfiguration: Codable, Sendable, Equatable {
    public enum Schedule: String, Codable, Sendable { case cosine, constant }

    /// Fields, epochs, batch size, learning rate, weight decay (decoupled, as AdamW's) and
    /// patience, as LR and FM read them.
    public var training = CTRTrainingConfiguration()
    /// Width of every field vector.
    public var embedding = 32
    /// Hidden sizes of the deep part (ReLU after each layer), then one output unit.
    public var mlp = [200, 80]
    /// Dropout before each hidden layer of the deep part (training only).
    public var dropout = 0.0
    /// The learning rate over training: cosine decay to zero over every planned step, or constant.
    public var schedule = Schedule.cosine

    enum CodingKeys: String, CodingKey, CaseIterable { case embedding, mlp, dropout, schedule, behaviour }

    public init() {}

    /// Decodes the shared keys; `behaviour` belongs to the models that read a behaviour
    /// sequence and is refused, with its key, by the others.
    public init(from decoder: any Decoder, readsBehaviour: Bool, kind: String) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if !readsBehaviour && c.contains(.behaviour) {
            throw DecodingError.dataCorruptedError(
                forKey: .behaviour, in: c, debugDescription: "\(kind) reads no behaviour sequence; a sequence feature needs a model that takes one (din)")
        }
        embedding = try c.decode(.embedding, default: 32, in: 1...1024)
        mlp = try c.decode(.mlp, default: [200, 80])
        guard mlp.allSatisfy({ (1...65_536).contains($0) }), mlp.count <= 16 else {
            throw DecodingError.dataCorruptedError(forKey: .mlp, in: c, debugDescription: "hidden sizes must be 1...65536, at most 16 layers; got \(mlp)")
        }
        dropout = try c.decode(.dropout, default: 0, in: 0...0.95)
        schedule = try c.decode(.schedule, default: .cosine)
        training = try CTRTrainingConfiguration(from: decoder)
    }

    public init(from decoder: any Decoder) throws { try self.init(from: decoder, readsBehaviour: false, kind: "this model") }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(embedding, forKey: .embedding)
        try c.encode(mlp, forKey: .mlp)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(schedule, forKey: .schedule)
        try training.encode(to: encoder)
    }
}

/// A deep CTR model's configuration: the shared settings plus its own.
public protocol DeepCTRConfigurable: Codable, Sendable, Equatable {
    var common: DeepCTRConfiguration { get }
}
