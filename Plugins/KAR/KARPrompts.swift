import RecCore
import RecLM

/// KAR's factorization prompts (Xi et al., 2023): the scenario factors that break a user's
/// preferences and an item's facts down, the user's profile in words, and the rated history.
///
/// User prompt: `profile` (user features through `words`), then each earlier interaction as
/// `"Title", N stars; ` in time order, then the question on the factors. Item prompt: the
/// request to introduce the item and describe it on the same factors. The defaults are KAR's
/// MovieLens-1M wording; every part is configurable for another dataset.
public struct KARPrompts: Codable, Sendable, Equatable {
    /// What the items are ("movie", "book").
    public var domain = "movie"
    /// The scenario factors, in the order the prompts list them.
    public var factors = [
        "genre", "director/actors", "time period/country", "character", "plot/theme", "mood/tone", "critical acclaim/award", "production quality",
        "soundtrack",
    ]
    /// The sentence before the history; `{field}` names a user feature, written through `words`
    /// where it has an entry (a value without one is written as it is; a missing feature as
    /// "unknown").
    public var profile = "Given a {gender} user who is aged {age} and {occupation}, this user's movie viewing history over time is listed below. "
    /// Per user feature, its values in words (MovieLens-1M's codes from its README by default).
    public var words = Self.movieLens1M
    /// At most this many of the latest interactions are listed.
    public var historyLimit = 30

    enum CodingKeys: String, CodingKey, CaseIterable { case domain, factors, profile, words, historyLimit }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        domain = try c.decode(.domain, default: "movie")
        factors = try c.decode(.factors, default: KARPrompts().factors)
        guard !factors.isEmpty, factors.allSatisfy({ !$0.isEmpty }) else {
            throw DecodingError.dataCorruptedError(forKey: .factors, in: c, debugDescription: "list at least one non-empty factor")
        }
        profile = try c.decode(.profile, default: KARPrompts().profile)
        do {
            _ = try PromptTemplate(profile)
        } catch let error as RecError {
            throw DecodingError.dataCorruptedError(forKey: .profile, in: c, debugDescription: error.message)
        }
        words = try c.decode(.words, default: Self.movieLens1M)
        historyLimit = try c.decode(.historyLimit, default: 30, in: 1...1000)
    }

    /// The factors as a phrase: "a, b, and c".
    var factorList: String {
        factors.count == 1 ? factors[0] : factors.dropLast().joined(separator: ", ") + ", and " + factors.last!
    }

    /// The profile sentence and the rated history: the part of the user prompt that KAR also
    /// encodes beside the answer.
    func history(_ user: UserHistory, items: [ItemText]) -> String {
        var text = profileSentence(user.features)
        let start = max(0, user.history.count - historyLimit)
        for index in start..<user.history.count {
            let item = Int(user.history[index])
            let title = item < items.count ? items[item].text("title") ?? "item \(item)" : "item \(item)"
            let stars = index < user.ratings.count ? Int(user.ratings[index].rounded()) : 0
            text += "\"\(title)\", \(stars) stars; "
        }
        return text
    }

    /// The whole user prompt.
    func userPrompt(_ user: UserHistory, items: [ItemText]) -> String {
        history(user, items: items)
            + "Analyze user's preferences on \(domain)s (consider factors like \(factorList)). Provide clear explanations based on relevant details from the user's \(domain) viewing history and other pertinent factors."
    }

    /// The item prompt.
    func itemPrompt(_ item: ItemText) -> String {
        "Introduce \(domain) \(item.text("title") ?? "unknown") and describe its attributes (including but not limited to \(factorList))."
    }

    /// The profile sentence with each `{name}` replaced by the feature's value in words (the
    /// template was checked when the configuration was decoded).
    func profileSentence(_ features: [String: String]) -> String {
        guard let template = try? PromptTemplate(profile) else { return profile }
        return template.render { name in features[name].map { words[name]?[$0] ?? $0 } }.0
    }

    /// MovieLens-1M's user codes in words (its README): gender, age bracket, occupation.
    public static let movieLens1M: [String: [String: String]] = [
        "gender": ["M": "male", "F": "female"],
        "age": ["1": "under 18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49", "50": "50-55", "56": "56+"],
        "occupation": [
            "0": "in an unspecified occupation", "1": "an academic/educator", "2": "an artist", "3": "a clerical/admin worker", "4": "a college/grad student",
            "5": "in customer service", "6": "a doctor/health care worker", "7": "an executive/manager", "8": "a farmer", "9": "a homemaker",
            "10": "a K-12 student", "11": "a lawyer", "12": "a programmer", "13": "retired", "14": "in sales/marketing", "15": "a scientist",
            "16": "self-employed", "17": "a technician/engineer", "18": "a tradesman/craftsman", "19": "unemployed", "20": "a writer",
        ],
    ]
}
