import RecCore
import RecStore

/// Text embeddings through the results store's artifact table: each vector is stored under a
/// hash of the encoder kind, its resolved configuration and the text (plus the whole corpus
/// for corpus-dependent encoders such as TF-IDF), so re-encoding the same texts costs only
/// lookups. Misses are encoded together and stored in one transaction.
public struct EmbeddingCache {
    public let store: ResultStore

    public init(store: ResultStore) { self.store = store }

    public struct Outcome {
        public var vectors: [[Float]]
        public var hits: Int
    }

    /// `configuration` is the encoder's resolved configuration as canonical JSON (what the
    /// registry returns with the encoder).
    public func encode(_ texts: [String], with encoder: any TextEncoder, configuration: String) throws -> Outcome {
        let kind = type(of: encoder).kind
        var scope = SHA256()
        scope.update("embedding\u{0}\(kind)\u{0}\(configuration)\u{0}")
        if encoder.corpusDependent {
            for text in texts { scope.update(text); scope.update([0]) }
        }
        let keys = texts.map { text in
            var hash = scope
            hash.update(text)
            return hash.finalize().hexString
        }
        var vectors = [[Float]?](repeating: nil, count: texts.count)
        for (index, key) in keys.enumerated() {
            guard let bytes = try store.artifact(key) else { continue }
            // The key covers the encoder's configuration, not its weights: a stored vector of
            // another width means the weights behind that configuration changed, and mixing
            // both would give vectors of two encoders.
            guard bytes.count == encoder.dimension * 4 else {
                throw RecError(
                    .store,
                    "\(store.db.path) holds a \(bytes.count / 4)-dimensional '\(kind)' embedding of \"\(texts[index].prefix(40))\", "
                        + "but the encoder with this configuration now gives \(encoder.dimension) dimensions: its weights changed behind "
                        + "the same configuration; use a fresh --db for the new encoder")
            }
            vectors[index] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        let hits = vectors.count { $0 != nil }
        if hits < texts.count {
            // A corpus-dependent encoder needs every text to weigh any one of them.
            let missing = encoder.corpusDependent ? Array(texts.indices) : texts.indices.filter { vectors[$0] == nil }
            let fresh = try encoder.encode(missing.map { texts[$0] })
            var items: [(key: String, data: [UInt8])] = []
            for (index, vector) in zip(missing, fresh) where vectors[index] == nil {
                vectors[index] = vector
                items.append((keys[index], vector.withUnsafeBytes { Array($0) }))
            }
            try store.putArtifacts(items, kind: "embedding")
        }
        return Outcome(vectors: vectors.map { $0! }, hits: hits)
    }
}
