import Foundation
import RecCore

extension LlamaModel {
    /// A conversation with the model: the key/value cache of every token so far, one buffer of
    /// `capacity` rows per layer (`[capacity, kvDim]` keys and values, Float32 values that exact
    /// numerics round through Float16 as llama.cpp's F16 cache stores them).
    public final class Session {
        public let model: LlamaModel
        public private(set) var tokens: [Int32] = []
        /// Rows every layer's buffers hold.
        public private(set) var capacity = 0
        private(set) var keys: [UnsafeMutablePointer<Float>] = [], values: [UnsafeMutablePointer<Float>] = []

        init(model: LlamaModel) { self.model = model }

        deinit {
            for buffer in keys + values { buffer.deallocate() }
        }

        /// Bytes the keys and values of `rows` tokens take in every layer.
        public static func cacheBytes(rows: Int, _ c: Configuration) -> Int { rows * c.layers * c.kvDim * 2 * MemoryLayout<Float>.size }

        /// Grows the buffers to hold at least `count` rows: doubling up to the context length
        /// unless `exactly` (a batch slot reserves what its sequence needs, once). Batched
        /// branches may need rows past the context; their positions stay within it.
        func reserve(_ count: Int, exactly: Bool = false) {
            guard capacity < count else { return }
            let c = model.configuration
            let rows = exactly ? count : max(count, min(c.contextLength, max(2 * capacity, 256)))
            let width = c.kvDim
            func grown(_ old: UnsafeMutablePointer<Float>?) -> UnsafeMutablePointer<Float> {
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: rows * width)
                buffer.initialize(repeating: 0, count: rows * width)
                if let old {
                    buffer.update(from: old, count: capacity * width)
                    old.deallocate()
                }
                return buffer
            }
            keys = (0..<c.layers).map { grown(keys.isEmpty ? nil : keys[$0]) }
            values = (0..<c.layers).map { grown(values.isEmpty ? nil : values[$0]) }
            capacity = rows
        }

        /// Forgets every token after the first `count` (a shared prefix stays cached).
        public func truncate(to count: Int) { tokens.removeLast(max(0, tokens.count - count)) }

        /// How many of `prompt`'s first tokens this session's cache already holds, leaving at
        /// least the last one to run (its logits are the ones wanted).
        func reusablePrefix(of prompt: [Int32]) -> Int {
            var count = 0
            let limit = min(tokens.count, prompt.count - 1)
            while count < limit && tokens[count] == prompt[count] { count += 1 }
            return count
        }

        /// Runs `new` tokens through the model after those already cached.
        /// - Parameter allLogits: logits for every new token (`[new.count, vocabulary]`);
        ///   otherwise for the last one only.
        public func append(_ new: [Int32], allLogits: Bool = false) throws -> [Float] {
            guard !new.isEmpty else { return [] }
            let segment = try model.segment(self, new, allLogits: allLogits)
            let logits = model.forward([segment])[0]
            tokens += new
            return logits
        }

        /// Logits `[Σ lengths, vocabulary]` of several continuations of the cached tokens, run in
        /// one pass (each sees the cache and itself only); the cache is left as it was.
        public func branches(_ continuations: [[Int32]]) throws -> [Float] {
            guard !continuations.isEmpty else { return [] }
            return model.forward([try model.segment(self, branches: continuations)])[0]
        }

        /// Records `new` as cached after a batched pass computed their keys and values.
        func commit(_ new: [Int32]) { tokens += new }
    }

    public func session() -> Session { Session(model: self) }

    /// `new` tokens after `session`'s, checked against the context and the vocabulary, with
    /// room for them reserved.
    func segment(_ session: Session, _ new: [Int32], allLogits: Bool = false) throws -> Segment {
        let c = configuration
        guard session.tokens.count + new.count <= c.contextLength else {
            throw RecError(.plugin, "\(session.tokens.count + new.count) tokens exceed the model's context of \(c.contextLength)")
        }
        try checkVocabulary(new)
        session.reserve(session.tokens.count + new.count)
        return Segment(session: session, ids: new, allLogits: allLogits, branches: nil)
    }

    /// Several continuations of `session`'s tokens as one segment of independent branches.
    func segment(_ session: Session, branches continuations: [[Int32]]) throws -> Segment {
        let lengths = continuations.map(\.count)
        guard lengths.allSatisfy({ $0 > 0 }) else { throw RecError(.plugin, "an empty continuation cannot be scored in a batch") }
        guard session.tokens.count + (lengths.max() ?? 0) <= configuration.contextLength else {
            throw RecError(.plugin, "a continuation exceeds the model's context of \(configuration.contextLength)")
        }
        let ids = continuations.flatMap { $0 }
        try checkVocabulary(ids)
        session.reserve(session.tokens.count + ids.count)
        return Segment(session: session, ids: ids, allLogits: true, branches: lengths)
    }

    func checkVocabulary(_ ids: [Int32]) throws {
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= configuration.vocabulary }) {
            throw RecError(.plugin, "token id \(bad) is outside the vocabulary of \(configuration.vocabulary)")
        }
    }
}
