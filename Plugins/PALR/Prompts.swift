import RecCore

/// The texts PALR puts in front of a language model. The ranker, the profile writer and the
/// instruction export all build them here, so a model fine-tuned on exported instructions sees
/// at inference exactly the layout it was trained on.
///
/// Layout of the two instructions (Yang et al., 2023, section 3): "Recommend" gives the
/// interaction history and asks for the next items; "Recommend_Retrieval" adds a candidate list
/// and asks for the items to pick from it. The natural-language profile, when there is one,
/// sits between history and candidates.
public struct PALRPrompts: Sendable, Equatable {
    /// What the items are called in the texts: "movie", "product".
    public var noun: String
    /// What users do with them, plain and past: "watch"/"watched", "buy"/"bought".
    public var verb: String
    public var verbPast: String
    /// How many of the most recent history items are listed (the paper: 20).
    public var historyLength: Int

    public init(noun: String = "movie", verb: String = "watch", verbPast: String = "watched", historyLength: Int = 20) {
        self.noun = noun
        self.verb = verb
        self.verbPast = verbPast
        self.historyLength = historyLength
    }

    /// The item's readable title (`ItemText.readableTitle`).
    public static func title(_ item: Int32, _ items: [ItemText]) -> String { ItemText.readableTitle(item, in: items) }

    /// One history line: the title and, where present, the genres or categories.
    static func describe(_ item: Int32, _ items: [ItemText]) -> String {
        let text = Int(item) < items.count ? items[Int(item)] : ItemText()
        let kinds = (text.genres.isEmpty ? text.categories : text.genres).filter { $0 != "unknown" && !$0.isEmpty }
        return "- " + title(item, items) + (kinds.isEmpty ? "" : ": " + kinds.prefix(4).joined(separator: ", "))
    }

    func historyBlock(_ history: [Int32], _ items: [ItemText]) -> String {
        history.suffix(historyLength).map { Self.describe($0, items) }.joined(separator: "\n")
    }

    /// The profile request (PALR's first step): a short description of the user's taste.
    public func profile(history: [Int32], items: [ItemText]) -> String {
        """
        A user \(verbPast) these \(noun)s, oldest first:
        \(historyBlock(history, items))

        In two or three sentences, describe what this user likes: genres, periods, themes and \
        moods. Do not list the \(noun)s again.
        """
    }

    /// Recommend: history (and profile) only; the answer lists the next items.
    public func recommend(history: [Int32], profile: String?, items: [ItemText], count: Int) -> (instruction: String, input: String) {
        let instruction =
            "Given a user's \(noun) history (oldest first)\(profile == nil ? "" : " and profile"), "
            + "name the \(count == 1 ? noun : "\(count) \(noun)s") the user will \(verb) next\(count == 1 ? "" : ", most likely first, one per line")."
        var input = "History:\n" + historyBlock(history, items)
        if let profile { input += "\n\nProfile: " + profile }
        return (instruction, input)
    }

    /// Recommend_Retrieval: history, profile and candidates; the answer picks `count`
    /// candidates, best first, one title per line.
    public func retrieval(history: [Int32], profile: String?, candidates: [Int32], items: [ItemText], count: Int) -> (instruction: String, input: String) {
        let instruction =
            "Given a user's \(noun) history (oldest first)\(profile == nil ? "" : ", profile") and a list of candidate \(noun)s, "
            + "pick the \(count == 1 ? "candidate" : "\(count) candidates") the user is most likely to \(verb) next"
            + "\(count == 1 ? "" : ", best first"). Answer with titles from the candidate list only, one per line."
        var input = "History:\n" + historyBlock(history, items)
        if let profile { input += "\n\nProfile: " + profile }
        input += "\n\nCandidates:\n" + candidates.map { "- " + Self.title($0, items) }.joined(separator: "\n")
        return (instruction, input)
    }

    /// The one user message the chat template wraps: instruction, a blank line, input.
    public static func message(_ parts: (instruction: String, input: String)) -> String {
        parts.instruction + "\n\n" + parts.input
    }
}
