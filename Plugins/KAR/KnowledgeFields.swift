import CTR
import RecCore
import RecTensor

/// KAR's augmented vectors as extra fields of a deep CTR model: per side (reasoning for the
/// user, facts for the item) the knowledge vector through the hybrid-expert adaptor, `[B, sides, D]`.
///
/// While the model trains the adaptor runs on each batch's distinct users and items. Once it is
/// trained, `freeze` computes every user's and item's field once into tables, which are what
/// the model then scores with and checkpoints (a few columns per entity instead of the encoder's
/// vectors), so a restored model scores exactly as the trained one.
final class KnowledgeFields: DenseFields, @unchecked Sendable {
    enum Side: Int, Sendable { case user, item }

    let sides: [Side]
    let width: Int
    /// Per side, `[entities, K]` knowledge vectors (shared with replicas, never trained).
    private let inputs: [Tensor]
    private let adaptor: HybridExpertAdaptor?
    /// The adaptor's design (nil when built frozen).
    private let configuration: KAR.Configuration?
    /// Per side, `[entities, D]`, once frozen.
    private(set) var tables: [Tensor]?

    /// A trainable adaptor over `inputs` (per side, one vector per entity).
    init(sides: [Side], inputs: [Tensor], configuration: KAR.Configuration, width: Int, seed: UInt64) {
        self.sides = sides
        self.inputs = inputs
        self.width = width
        self.configuration = configuration
        var rng = SplitMix64(seed: seed).derived("kar-adaptor")
        adaptor = HybridExpertAdaptor(
            sides: sides.count, inputs: inputs[0].shape[1], shared: configuration.sharedExperts, dedicated: configuration.dedicatedExperts,
            sizes: configuration.expert, rng: &rng)
    }

    /// Frozen tables of `counts[s]` rows per side, to be filled by a checkpoint.
    init(sides: [Side], counts: [Int], width: Int) {
        self.sides = sides
        self.width = width
        inputs = []
        adaptor = nil
        configuration = nil
        tables = counts.map { Tensor.zeros([$0, width]) }
    }

    var count: Int { sides.count }

    var parameters: [(String, Tensor)] {
        if let tables { return zip(sides, tables).map { ("table.\($0 == .user ? "user" : "item")", $1) } }
        return adaptor!.parameters
    }

    func fields(users: [Int32], items: [Int32], training: Bool, rng: inout SplitMix64) -> Tensor {
        let b = users.count
        let parts = sides.enumerated().map { index, side -> Tensor in
            let ids = side == .user ? users : items
            if let tables { return tables[index].gather(rows: ids).reshaped([b, 1, width]) }
            // The adaptor once per distinct entity, then one row per pair.
            var slot: [Int32: Int32] = [:], distinct: [Int32] = []
            let rows = ids.map { id in
                if let known = slot[id] { return known }
                slot[id] = Int32(distinct.count)
                distinct.append(id)
                return Int32(distinct.count - 1)
            }
            return adaptor!(inputs[index].gather(rows: distinct), side: index).gather(rows: rows).reshaped([b, 1, width])
        }
        return parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
    }

    /// The same inputs and a new adaptor of the same design (the trainer copies the values in).
    func replica() -> any DenseFields {
        guard let configuration, tables == nil else { return KnowledgeFields(sides: sides, counts: tables?.map { $0.shape[0] } ?? [], width: width) }
        return KnowledgeFields(sides: sides, inputs: inputs, configuration: configuration, width: width, seed: 0)
    }

    /// Every entity's field through the trained adaptor, 4096 at a time; from then on the
    /// tables answer.
    func freeze() {
        guard tables == nil, let adaptor else { return }
        tables = Tensor.noGrad {
            inputs.indices.map { index in
                let n = inputs[index].shape[0]
                var values: [Float] = []
                values.reserveCapacity(n * width)
                for start in stride(from: 0, to: n, by: 4096) {
                    let rows = (start..<min(n, start + 4096)).map(Int32.init)
                    values += adaptor(inputs[index].gather(rows: rows), side: index).data
                }
                return Tensor(shape: [n, width], data: values)
            }
        }
    }
}
