import RecCore

/// The language-model call cache: one row per completed call, keyed by a hash of everything
/// that determines its answer (backend, model, prompt, sampling parameters, seed). Each call is
/// stored in its own transaction as soon as it returns, so a run killed mid-way keeps every
/// completed call. API keys are never part of a request stored here.
/// The store keeps every stage artifact (`artifacts` table) for the runner and for plugins.
extension ResultStore: ArtifactStore {}

extension ResultStore: LanguageModelCallCache {
    public struct LMCacheStats: Sendable {
        public var hits: Int, misses: Int, calls: Int, promptTokens: Int, completionTokens: Int
        /// calls, prompt and completion tokens per backend and model
        public var byModel: [(backend: String, model: String, calls: Int, promptTokens: Int, completionTokens: Int)]
    }

    /// The stored response of call `key` (counted as a hit), or nil (counted as a miss).
    public func cachedLMResponse(_ key: String) throws -> String? {
        let response = try db.query("SELECT response FROM lm_calls WHERE key=?", [.text(key)]).first?[0].text
        try count(response == nil ? "misses" : "hits")
        if response != nil { callRecorder.note(key) }
        return response
    }

    public func storeLMCall(_ call: LanguageModelCall) throws {
        try db.transaction { try insertLMCall(call, createdAt: Self.now()) }
        callRecorder.note(call.key)
    }

    /// One row of the call cache, unless its key is stored already.
    private func insertLMCall(_ call: LanguageModelCall, createdAt: String) throws {
        try db.query(
            "INSERT OR IGNORE INTO lm_calls(key, backend, model, kind, request, response, prompt_tokens, completion_tokens, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
            [
                .text(call.key), .text(call.backend), .text(call.model), .text(call.kind), .text(call.request), .text(call.response),
                .int(Int64(call.promptTokens)), .int(Int64(call.completionTokens)), .text(createdAt),
            ])
    }

    private func count(_ name: String) throws {
        try db.query("INSERT INTO lm_cache_counts(name, value) VALUES(?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1", [.text(name)])
    }

    public func lmCacheStats() throws -> LMCacheStats {
        let counts = Dictionary(
            uniqueKeysWithValues: try db.query("SELECT name, value FROM lm_cache_counts").compactMap { row in
                row[0].text.map { ($0, Int(row[1].int ?? 0)) }
            })
        let rows = try db.query(
            "SELECT backend, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM lm_calls GROUP BY backend, model ORDER BY backend, model")
        let byModel = rows.map { row in
            (
                backend: row[0].text ?? "", model: row[1].text ?? "", calls: Int(row[2].int ?? 0),
                promptTokens: Int(row[3].int ?? 0), completionTokens: Int(row[4].int ?? 0)
            )
        }
        return LMCacheStats(
            hits: counts["hits"] ?? 0, misses: counts["misses"] ?? 0, calls: byModel.map(\.calls).reduce(0, +),
            promptTokens: byModel.map(\.promptTokens).reduce(0, +), completionTokens: byModel.map(\.completionTokens).reduce(0, +),
            byModel: byModel)
    }
}

extension ResultStore {
    /// A stored call with the time it was stored (ISO 8601), as `cache export` writes it.
    public struct StoredLMCall: Sendable, Equatable {
        public var call: LanguageModelCall
        public var createdAt: String

        public init(call: LanguageModelCall, createdAt: String) {
            self.call = call
            self.createdAt = createdAt
        }
    }

    /// Every stored call, oldest first (ties by key), so that two exports of the same calls are
    /// the same bytes.
    public func storedLMCalls() throws -> [StoredLMCall] {
        try db.query(
            "SELECT key, backend, model, kind, request, response, prompt_tokens, completion_tokens, created_at FROM lm_calls ORDER BY created_at, key"
        ).map { row in
            StoredLMCall(
                call: LanguageModelCall(
                    key: row[0].text ?? "", backend: row[1].text ?? "", model: row[2].text ?? "", kind: row[3].text ?? "",
                    request: row[4].text ?? "", response: row[5].text ?? "", promptTokens: Int(row[6].int ?? 0),
                    completionTokens: Int(row[7].int ?? 0)),
                createdAt: row[8].text ?? "")
        }
    }

    /// Stores `calls` in one transaction, keeping their stored times; a key already stored
    /// keeps its row.
    /// - Returns: how many were new, and how many keys were stored with another response.
    public func importLMCalls(_ calls: [StoredLMCall]) throws -> (new: Int, differing: Int) {
        try db.transaction {
            var new = 0, differing = 0
            for stored in calls {
                let call = stored.call
                if let existing = try db.query("SELECT response FROM lm_calls WHERE key=?", [.text(call.key)]).first?[0].text {
                    if existing != call.response { differing += 1 }
                    continue
                }
                try insertLMCall(call, createdAt: stored.createdAt)
                new += 1
            }
            return (new, differing)
        }
    }
}
