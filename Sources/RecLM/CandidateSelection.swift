import Foundation
import RecCore

/// Turning a language model's answer into items from a fixed candidate list, either by
/// likelihood (each candidate's log-probability as the continuation of the prompt) or by reading
/// generated text and matching each listed line to a candidate title. Nothing that is not a
/// candidate is ever returned: unmatched lines are counted as rejected.
public enum CandidateSelection {
    public struct Parsed: Sendable, Equatable {
        /// Candidate indices in the order the text names them, without repeats.
        public var chosen: [Int]
        /// Lines that named no candidate (hallucinated or garbled items).
        public var rejected: [String]
        /// Lines naming a candidate already chosen.
        public var repeats: Int
    }

    /// Candidates ordered by the model's log-probability of `prefix + title` after `prompt`
    /// (`meanPerToken` divides by the title's token count, which favours long titles less).
    /// - Returns: (candidate index, score), best first; ties keep the candidate order.
    public static func byLikelihood(
        _ model: any LanguageModel, prompt: Prompt, candidates: [String], prefix: String = " ", meanPerToken: Bool = false
    ) throws -> [(index: Int, score: Double)] {
        order(try model.score(prompt, continuations: candidates.map { prefix + $0 }), meanPerToken: meanPerToken)
    }

    /// Candidates ordered by their scored continuations, as `byLikelihood` orders them.
    public static func order(_ scores: [ContinuationScore], meanPerToken: Bool = false) -> [(index: Int, score: Double)] {
        let values = scores.map { meanPerToken ? $0.total / Double(max(1, $0.logprobs.count)) : $0.total }
        return values.indices.sorted { (values[$0], -$0) > (values[$1], -$1) }.map { ($0, values[$0]) }
    }

    /// Reads a generated list (one item per line, or separated by semicolons; numbering, bullets
    /// and quotes ignored) and matches each item to the most similar candidate title. A title
    /// answers to its full text and, MovieLens-style, to its main part and the alternative title
    /// in parentheses. An item matches a title it equals (score 1), contains (just below 1, a
    /// longer contained title first), or shares words with (Dice similarity) at `threshold` or more.
    public static func parse(_ text: String, candidates: [String], threshold: Double = 0.8) -> Parsed {
        let aliases = candidates.map(names)
        var chosen: [Int] = [], rejected: [String] = [], repeats = 0
        for item in items(text) {
            let key = normalise(item)
            guard !key.isEmpty else { continue }
            var best: (index: Int, score: Double)?
            for (index, names) in aliases.enumerated() {
                for title in names where !title.isEmpty {
                    let score =
                        key == title
                        ? 1
                        : key.contains(title) && title.count >= 4
                            ? 0.9 + 0.09 * Double(title.count) / Double(key.count)
                            : similarity(key, title)
                    if score > (best?.score ?? 0) { best = (index, score) }
                }
            }
            guard let best, best.score >= threshold else { rejected.append(item); continue }
            if chosen.contains(best.index) { repeats += 1 } else { chosen.append(best.index) }
        }
        return Parsed(chosen: chosen, rejected: rejected, repeats: repeats)
    }

    /// The normalised names a candidate answers to: the whole title, the part before its first
    /// parenthesis, and the text inside that parenthesis (MovieLens' alternative title).
    static func names(_ title: String) -> [String] {
        var out = [normalise(title)]
        if let open = title.firstIndex(of: "("), open > title.startIndex {
            out.append(normalise(String(title[..<open])))
            if let close = title[open...].firstIndex(of: ")") {
                let inner = String(title[title.index(after: open)..<close])
                if !inner.allSatisfy(\.isNumber) { out.append(normalise(inner)) }
            }
        }
        return out
    }

    /// The list items of a generated answer.
    static func items(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "\n" || $0 == ";" }).map { line in
            var item = line.trimmingCharacters(in: .whitespaces)
            // "1. ", "2) ", "- ", "* ", "• "
            if let marker = item.range(of: #"^(\d+[\.\)]|[-*•])\s*"#, options: .regularExpression) { item.removeSubrange(marker) }
            return item.trimmingCharacters(in: CharacterSet(charactersIn: "\"'“”‘’*_ ").union(.whitespaces))
        }.filter { !$0.isEmpty }
    }

    /// Lower-case words without accents or punctuation, a trailing year dropped and MovieLens'
    /// "Title, The" turned back into "the title".
    static func normalise(_ title: String) -> String {
        var text = title.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil).lowercased()
        if let year = text.range(of: #"\s*\(\d{4}\)\s*$"#, options: .regularExpression) { text.removeSubrange(year) }
        if let article = text.range(of: #",\s*(the|a|an|le|la|les|il|el|der|die|das)$"#, options: .regularExpression) {
            let word = text[article].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            text = word + " " + text[..<article.lowerBound]
        }
        let words = text.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : " " }
        return String(words).split(separator: " ").joined(separator: " ")
    }

    /// Dice coefficient of the two texts' word sets.
    static func similarity(_ a: String, _ b: String) -> Double {
        let x = Set(a.split(separator: " ")), y = Set(b.split(separator: " "))
        guard !x.isEmpty, !y.isEmpty else { return 0 }
        return 2 * Double(x.intersection(y).count) / Double(x.count + y.count)
    }
}
