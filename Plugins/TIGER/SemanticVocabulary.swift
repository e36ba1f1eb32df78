import Foundation
import RecCore
import RecTensor

/// TIGER's token space and the trie of valid IDs.
///
/// Tokens: 0 pads, 1 starts the decoder; then the codes of every ID position, each position in
/// its own range (position `p`'s code `c` is `positionStart[p] + c`); then `userBuckets` user
/// tokens (users hashed into buckets), absent when `userBuckets` is 0.
struct SemanticVocabulary: Sendable {
    static let padding: Int32 = 0
    static let start: Int32 = 1

    /// Each item's ID as tokens, `[items][idLength]`.
    let itemTokens: [[Int32]]
    let idLength: Int
    let userStart: Int32
    let userBuckets: Int
    let size: Int
    /// The tokens that may follow each valid prefix (the empty prefix included), ascending.
    private let next: [[Int32]: [Int32]]
    /// The item each complete ID names.
    private let items: [[Int32]: Int32]

    init(ids: SemanticIDs, userBuckets: Int) {
        idLength = ids.levels + 1
        var sizes = [Int](repeating: ids.codebookSize, count: ids.levels)
        sizes.append(Int(ids.codes.map { $0[ids.levels] }.max() ?? 0) + 1)
        var starts: [Int32] = []
        var cursor: Int32 = 2
        for size in sizes {
            starts.append(cursor)
            cursor += Int32(size)
        }
        itemTokens = ids.codes.map { id in id.enumerated().map { starts[$0.offset] + $0.element } }
        userStart = cursor
        self.userBuckets = userBuckets
        size = Int(cursor) + userBuckets
        var next: [[Int32]: Set<Int32>] = [:]
        var items: [[Int32]: Int32] = [:]
        for (item, tokens) in itemTokens.enumerated() {
            for length in 0..<idLength { next[Array(tokens.prefix(length)), default: []].insert(tokens[length]) }
            items[tokens] = Int32(item)
        }
        self.next = next.mapValues { $0.sorted() }
        self.items = items
    }

    func allowed(after prefix: [Int32]) -> [Int32] { next[prefix] ?? [] }
    func item(_ tokens: [Int32]) -> Int32? { items[tokens] }

    /// The user's token: a fixed hash of the user's index into the buckets.
    func userToken(_ user: Int32) -> Int32? {
        guard userBuckets > 0 else { return nil }
        var mixer = SplitMix64(seed: UInt64(UInt32(bitPattern: user)) &+ 0x7469_6765_72)
        return userStart + Int32(mixer.next() % UInt64(userBuckets))
    }

    /// The encoder's input for a user: the user token (when there are buckets), then the IDs of
    /// the last `history` items, right-padded to `length`.
    func encoderTokens(user: Int32, items: ArraySlice<Int32>, length: Int) -> [Int32] {
        var tokens = userToken(user).map { [$0] } ?? []
        for item in items { tokens += itemTokens[Int(item)] }
        return tokens + [Int32](repeating: Self.padding, count: max(0, length - tokens.count))
    }
}

/// Beam search over the trie of valid IDs: every finished beam is a real item's ID.
enum ConstrainedBeamSearch {
    /// The best `width` items for one encoder input, best first, with their log-probabilities
    /// (the sum over the ID's tokens). Each step scores every live beam's next token in one
    /// decoder pass and keeps the `width` best continuations among the trie's children (ties by
    /// beam, then token order).
    static func search(_ model: TIGERModel, vocabulary: SemanticVocabulary, encoderTokens: [Int32], width: Int) -> [(item: Int32, logProbability: Double)] {
        Tensor.noGrad {
            var rng = SplitMix64(seed: 0)
            let memory = model.encode([encoderTokens], training: false, rng: &rng)
            let padding = encoderTokens.map { $0 == SemanticVocabulary.padding }
            var beams: [(tokens: [Int32], score: Double)] = [([], 0)]
            for step in 0..<vocabulary.idLength {
                let count = beams.count
                let repeated = memory.reshaped([1, memory.count]).gather(rows: [Int32](repeating: 0, count: count)).reshaped([count] + memory.shape.dropFirst())
                let logits = model.decode(
                    beams.map { [SemanticVocabulary.start] + $0.tokens }, memory: repeated, memoryPadding: Array(repeating: padding, count: count), training: false,
                    rng: &rng)
                let v = vocabulary.size, positions = step + 1
                var candidates: [(beam: Int, token: Int32, score: Double)] = []
                for (index, beam) in beams.enumerated() {
                    let start = (index * positions + step) * v
                    let row = logits.data[start..<(start + v)]
                    let normaliser = logNormaliser(row)
                    for token in vocabulary.allowed(after: beam.tokens) {
                        candidates.append((index, token, beam.score + Double(row[start + Int(token)]) - normaliser))
                    }
                }
                candidates.sort { ($0.score, -$0.beam, -Int($0.token)) > ($1.score, -$1.beam, -Int($1.token)) }
                beams = candidates.prefix(width).map { (beams[$0.beam].tokens + [$0.token], $0.score) }
            }
            return beams.compactMap { beam in vocabulary.item(beam.tokens).map { ($0, beam.score) } }
        }
    }

    /// `log Σ exp(x)` over a row of logits, in Float64: what a logit minus it is a
    /// log-probability.
    static func logNormaliser(_ row: ArraySlice<Float>) -> Double {
        let top = Double(row.max()!)
        return top + log(row.reduce(0.0) { $0 + exp(Double($1) - top) })
    }

    /// Every item's log-probability under the model, by scoring each full ID (for tests of the
    /// search against exhaustive ranking).
    static func exhaustive(_ model: TIGERModel, vocabulary: SemanticVocabulary, encoderTokens: [Int32]) -> [(item: Int32, logProbability: Double)] {
        Tensor.noGrad {
            var rng = SplitMix64(seed: 0)
            let memory = model.encode([encoderTokens], training: false, rng: &rng)
            let padding = encoderTokens.map { $0 == SemanticVocabulary.padding }
            return vocabulary.itemTokens.enumerated().map { item, tokens in
                let logits = model.decode([[SemanticVocabulary.start] + tokens.dropLast()], memory: memory, memoryPadding: [padding], training: false, rng: &rng)
                var total = 0.0
                let v = vocabulary.size
                for position in 0..<tokens.count {
                    let row = logits.data[(position * v)..<(position * v + v)]
                    total += Double(row[position * v + Int(tokens[position])]) - logNormaliser(row)
                }
                return (Int32(item), total)
            }
        }
    }
}
