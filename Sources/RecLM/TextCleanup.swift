import Foundation
import RecCore

/// The text with every sentence that repeats an earlier one dropped, and an unfinished last
/// sentence (cut at the token limit) dropped when a finished one precedes it. Small models
/// decoding greedily loop on one sentence; the loop is noise in whatever reads the text.
public func withoutRepeatedSentences(_ text: String) -> String {
    var sentences: [String] = [], seen = Set<String>()
    var current = ""
    for character in text {
        current.append(character)
        if ".!?".contains(character) {
            let sentence = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !sentence.isEmpty, seen.insert(sentence.lowercased()).inserted { sentences.append(sentence) }
            current = ""
        }
    }
    let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
    if !rest.isEmpty, sentences.isEmpty, seen.insert(rest.lowercased()).inserted { sentences.append(rest) }
    return sentences.joined(separator: " ")
}

/// A generated text as augmenters keep it: repeated sentences and an unfinished last one
/// dropped (`withoutRepeatedSentences`), counted in `tally` under `noun`, `noun_empty` and
/// `noun_cut_at_max_tokens`.
public func keptText(_ generation: Generation, countedAs noun: String, in tally: Tally) -> String {
    let text = withoutRepeatedSentences(generation.text)
    tally.count(noun)
    if text.isEmpty { tally.count("\(noun)_empty") }
    if generation.finish == .length { tally.count("\(noun)_cut_at_max_tokens") }
    return text
}

/// Every prompt through the model's batched chat path, each answer kept as `keptText` keeps it
/// (counted under `noun`) and quoted in `tally` as `example(index, prompt, text)`, of which the
/// tally keeps the first few.
public func keptTexts(
    _ prompts: [String], from model: any LanguageModel, maxTokens: Int, countedAs noun: String, in tally: Tally,
    example: (Int, String, String) -> String
) throws -> [String] {
    guard !prompts.isEmpty else { return [] }
    let generations = try model.chatAll(prompts, maxTokens: maxTokens)
    return zip(prompts, generations).enumerated().map { index, pair in
        let text = keptText(pair.1, countedAs: noun, in: tally)
        tally.example(example(index, pair.0, text))
        return text
    }
}
