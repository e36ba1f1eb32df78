import RecCore
import RecTensor

/// What a deep CTR network reads for one batch of pairs, built from the field layout:
///
/// - `fields [B, F, D]`: every field vector (user fields, then item fields), a multi-valued field
///   the mean of its values' vectors, a numeric field its row scaled by the value;
/// - `firstOrder [B, 1]`: `Σ_f w_f` from the one-wide first-order table (multi-valued fields
///   summed), for the models with a linear part;
/// - `behaviour`: for models that read one, the last `L` interactions before each pair.
struct CTRBatch {
    var size: Int
    var fields: Tensor
    var firstOrder: Tensor
    var behaviour: Behaviour?

    /// `items [B, L, Fi·D]`: the item fields of each earlier interaction (zero for padding);
    /// `ratings [B·L]`: their ratings rounded to 1...10 (0 for padding or unknown); `lengths [B]`.
    struct Behaviour {
        var items: Tensor
        var ratings: [Int32]
        var lengths: [Int]
        var length: Int
    }
}

/// Field vectors computed from inputs outside the field layout (KAR's knowledge vectors
/// through its adaptor) and trained with the model. They come first among a batch's fields and
/// count as user-side fields, so that they reach every model's interactions but not DIN's
/// attention query; they have no first-order weight. Implementations are mutated only while
/// the model trains or restores, which own it exclusively.
package protocol DenseFields: AnyObject, Sendable {
    /// Fields added, each `D` wide.
    var count: Int { get }
    /// Every tensor to optimise and checkpoint, by a stable name.
    var parameters: [(String, Tensor)] { get }
    /// `[B, count, D]` for the pairs.
    func fields(users: [Int32], items: [Int32], training: Bool, rng: inout SplitMix64) -> Tensor
    /// The same inputs with parameter tensors of its own (a training share's replica).
    func replica() -> any DenseFields
}

/// The embedding tables every deep CTR model has, and how a batch of pairs is looked up in them.
final class FieldEmbedding {
    let layout: FieldLayout
    let width: Int
    /// `[rows, D]` field vectors and `[rows, 1]` first-order weights.
    let table: Tensor, linear: Tensor
    /// The layout's fields per side; user-side fields in a batch are `dense` ones, then these.
    let layoutUserFields: Int, itemFields: Int
    let dense: (any DenseFields)?
    private let userBags: PackedBags, itemBags: PackedBags

    /// Xavier-normal tables, one standard deviation per group of fields as RecBole keeps them:
    /// ids and categorical fields share a table, each multi-valued field and the numeric fields
    /// have their own.
    init(layout: FieldLayout, width: Int, dense: (any DenseFields)? = nil, rng: inout SplitMix64) {
        self.layout = layout
        self.width = width
        self.dense = dense
        let userFields = layout.fields.filter { $0.source == .user }.count
        layoutUserFields = userFields
        itemFields = layout.fields.count - userFields
        userBags = PackedBags(layout.userTokens, multi: (0..<userFields).map { layout.isMulti(.user, $0) })
        itemBags = PackedBags(layout.itemTokens, multi: (0..<itemFields).map { layout.isMulti(.item, $0) })
        // Rows per field, from the tokens that use them.
        var fieldOfRow = [Int](repeating: -1, count: layout.rowCount)
        for (source, tables) in [(0, layout.userTokens), (userFields, layout.itemTokens)] {
            for entity in tables { for (f, tokens) in entity.enumerated() { for token in tokens { fieldOfRow[Int(token.row)] = source + f } } }
        }
        func group(_ row: Int) -> Int {
            let f = fieldOfRow[row]
            guard f >= 0 else { return -1 }
            switch layout.fields[f].kind {
            case .multiCategorical: return f
            case .numeric: return -2
            default: return -1
            }
        }
        var sizes: [Int: Int] = [:]
        for row in 0..<layout.rowCount { sizes[group(row), default: 0] += 1 }
        var values = [Float](repeating: 0, count: layout.rowCount * width)
        for row in 0..<layout.rowCount {
            let std = (2 / Float(sizes[group(row)]! + width)).squareRoot()
            for d in 0..<width { values[row * width + d] = Float(rng.nextGaussian()) * std }
        }
        table = Tensor(shape: [layout.rowCount, width], data: values, requiresGrad: true)
        linear = Initializer.normal([layout.rowCount, 1], std: (2 / Float(layout.rowCount + 1)).squareRoot(), rng: &rng)
    }

    /// Fields before the item fields in a batch: the dense fields and the layout's user fields.
    var userFields: Int { (dense?.count ?? 0) + layoutUserFields }

    var fieldCount: Int { userFields + itemFields }

    var parameters: [(String, Tensor)] { [("embedding", table), ("first_order", linear)] + (dense.map { $0.parameters.map { ("dense.\($0)", $1) } } ?? []) }

    /// Embedding bags in the order fields are appended: each field's tokens, weighted for the
    /// field vector (a multi-valued field by the mean of its values) and for the first-order
    /// term (by their sum).
    private struct Bags {
        var rows: [Int32] = [], meanWeights: [Float] = [], sumWeights: [Float] = [], starts: [Int32] = [0]

        init(bags: Int, tokens: Int) {
            rows.reserveCapacity(tokens)
            meanWeights.reserveCapacity(tokens)
            sumWeights.reserveCapacity(tokens)
            starts.reserveCapacity(bags + 1)
        }

        /// Every field of entity `e` of one side, one bag each.
        mutating func append(_ e: Int, of side: PackedBags) {
            let (first, end) = (side.start[e], side.start[e + 1])
            let base = Int32(rows.count - first)
            rows += side.rows[first..<end]
            meanWeights += side.meanWeights[first..<end]
            sumWeights += side.sumWeights[first..<end]
            for f in 0..<side.fields { starts.append(base + side.ends[e * side.fields + f]) }
        }

        /// `count` bags with nothing in them (padded positions), pooled to the zero vector.
        mutating func appendEmpty(_ count: Int) { for _ in 0..<count { starts.append(Int32(rows.count)) } }
    }

    /// One side's tokens with both weights, flattened once so that a batch copies slices: entity
    /// `e`'s tokens are `start[e]..<start[e + 1]`, and its field `f` ends at `ends[e · fields + f]`.
    private struct PackedBags {
        var rows: [Int32] = [], meanWeights: [Float] = [], sumWeights: [Float] = [], start = [0]
        var ends: [Int32] = []
        let fields: Int
        /// The most tokens any entity has.
        var widest = 0

        init(_ tokens: [[[FieldLayout.Token]]], multi: [Bool]) {
            fields = multi.count
            for entity in tokens {
                for (f, field) in entity.enumerated() {
                    let scale: Float = multi[f] ? 1 / Float(max(1, field.count)) : 1
                    for token in field {
                        rows.append(token.row)
                        meanWeights.append(scale * token.value)
                        sumWeights.append(token.value)
                    }
                    ends.append(Int32(rows.count))
                }
                widest = max(widest, rows.count - start.last!)
                start.append(rows.count)
            }
        }
    }

    /// The batch for `pairs`; `behaviour` gives each pair's earlier interactions when the model
    /// reads them (at most `length` each).
    /// `training` and `rng` reach the dense fields' layers (dropout).
    func batch(
        users: [Int32], items: [Int32], behaviour: [ArraySlice<Interaction>]? = nil, length: Int = 0, training: Bool = false, rng: inout SplitMix64
    ) -> CTRBatch {
        let b = users.count, embedded = layoutUserFields + itemFields
        var bags = Bags(bags: b * embedded, tokens: b * (userBags.widest + itemBags.widest))
        for (user, item) in zip(users, items) {
            bags.append(Int(user), of: userBags)
            bags.append(Int(item), of: itemBags)
        }
        var fields = table.embeddingBag(rows: bags.rows, weights: bags.meanWeights, starts: bags.starts).reshaped([b, embedded, width])
        if let dense { fields = Tensor.concat([dense.fields(users: users, items: items, training: training, rng: &rng), fields], axis: 1) }
        let firstOrder = linear.embeddingBag(rows: bags.rows, weights: bags.sumWeights, starts: bags.starts).reshaped([b, embedded]).sum(axes: [1], keepDims: true)
        var result = CTRBatch(size: b, fields: fields, firstOrder: firstOrder)
        if let behaviour {
            var past = Bags(bags: b * length * itemFields, tokens: b * length * itemBags.widest), ratings: [Int32] = [], lengths: [Int] = []
            for events in behaviour {
                let events = events.suffix(length)
                lengths.append(events.count)
                for slot in 0..<length {
                    let event = slot < events.count ? events[events.startIndex + slot] : nil
                    ratings.append(event.map { $0.rating > 0 ? Int32(max(1, min(10, $0.rating.rounded()))) : 0 } ?? 0)
                    if let event { past.append(Int(event.item), of: itemBags) } else { past.appendEmpty(itemFields) }
                }
            }
            let items = table.embeddingBag(rows: past.rows, weights: past.meanWeights, starts: past.starts).reshaped([b, length, itemFields * width])
            result.behaviour = CTRBatch.Behaviour(items: items, ratings: ratings, lengths: lengths, length: length)
        }
        return result
    }
}
