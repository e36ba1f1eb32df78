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
        return response
    }

    public func storeLMCall(_ call: LanguageModelCall) throws {
        try db.transaction {
            try db.query(
                "INSERT OR IGNORE INTO lm_calls(key, backend, model, kind, request, response, prompt_tokens, completion_tokens, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
                [
                    .text(call.key), .text(call.backend), .text(call.model), .text(call.kind), .text(call.request), .text(call.response),
                    .int(Int64(call.promptTokens)), .int(Int64(call.completionTokens)), .text(Self.now()),
                ])
        }
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
