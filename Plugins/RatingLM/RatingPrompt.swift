import Foundation
import RecCore

/// The rating question Kang et al. (2023, Figure 2) put to a language model: the user's recent
/// ratings as title, genres and stars, oldest first, then the candidate, asking for 1 to 5
/// stars. The answer is read by scoring the five digits, so the prompt asks for one digit.
struct RatingPrompt: Sendable {
    /// One earlier rating shown in a prompt.
    struct Rated: Sendable, Equatable {
        var item: Int32
        var rating: Float
    }

    /// A solved example (few-shot): a history, the item asked about and its true rating.
    struct Example: Sendable, Equatable {
        var history: [Rated]
        var item: Int32
        var rating: Int
    }

    /// The five answers scored after each prompt, in rating order.
    static let answers = ["1", "2", "3", "4", "5"]

    /// "Title (year), genres: A, B" per item.
    let descriptions: [String]

    init(items: [ItemText]) {
        descriptions = items.indices.map { index in
            let text = items[index]
            let genres = (text.genres.isEmpty ? text.categories : text.genres).filter { !$0.isEmpty && $0 != "unknown" }
            return ItemText.readableTitle(Int32(index), in: items) + (genres.isEmpty ? "" : ", genres: " + genres.prefix(4).joined(separator: ", "))
        }
    }

    init(descriptions: [String]) { self.descriptions = descriptions }

    /// Item `item`'s description ("item N" for one outside the catalogue).
    func describe(_ item: Int32) -> String { item >= 0 && Int(item) < descriptions.count ? descriptions[Int(item)] : "item \(item)" }

    /// The user message for one rating to predict.
    func message(history: [Rated], candidate: Int32) -> String {
        var text = history.isEmpty ? "This user has not rated any movie yet.\n" : "Here is a user's rating history, oldest first (1 to 5 stars):\n"
        for rated in history {
            let stars = Int(rated.rating.rounded())
            text += "- \(describe(rated.item)): \(stars) \(stars == 1 ? "star" : "stars")\n"
        }
        text += "Based on this history, how many stars (1 being lowest, 5 highest) will the user give to: \(describe(candidate))?\n"
        text += "Answer with a single digit from 1 to 5."
        return text
    }

    /// The conversation: each solved example as a question and its answer, then the question.
    func conversation(examples: [Example], history: [Rated], candidate: Int32) -> [(role: String, content: String)] {
        var turns: [(role: String, content: String)] = []
        for example in examples {
            turns.append(("user", message(history: example.history, candidate: example.item)))
            turns.append(("assistant", String(example.rating)))
        }
        turns.append(("user", message(history: history, candidate: candidate)))
        return turns
    }

    /// The distribution over 1...5 from the answers' total log-probabilities (each answer's
    /// whole string, however many tokens the tokenizer splits it into), normalised over the five.
    static func probabilities(_ logprobs: [Double]) -> [Double] {
        precondition(logprobs.count == answers.count, "one log-probability per answer")
        let top = logprobs.filter(\.isFinite).max() ?? 0
        let weights = logprobs.map { $0.isFinite ? exp($0 - top) : 0 }
        let total = weights.reduce(0, +)
        return total > 0 ? weights.map { $0 / total } : [Double](repeating: 1 / Double(answers.count), count: answers.count)
    }

    /// Regression: the expected rating. Classification: the most probable rating (the lower
    /// one on a tie).
    static func prediction(_ probabilities: [Double], expected: Bool) -> Float {
        if expected { return Float(probabilities.enumerated().reduce(0.0) { $0 + Double($1.offset + 1) * $1.element }) }
        var best = 0
        for (index, p) in probabilities.enumerated() where p > probabilities[best] { best = index }
        return Float(best + 1)
    }
}
