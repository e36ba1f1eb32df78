/// One user-item event with dense ids. `time` orders a user's events (a Unix timestamp, or a
/// per-user sequence position when the source has no timestamps).
public struct Interaction: Sendable, Hashable {
    public var user: Int32
    public var item: Int32
    public var rating: Float
    public var time: Int64

    public init(user: Int32, item: Int32, rating: Float = 1, time: Int64 = 0) {
        self.user = user
        self.item = item
        self.rating = rating
        self.time = time
    }
}

/// What is written about an item, as named fields: `title`, `genres`, `year`, `tags`,
/// `description`, `brand`, `categories` from the loaders, and any field a plugin adds (an
/// LLM's summary under its own name). Every field holds a list of values: one for a title,
/// several for genres or tags; a field the source lacks is absent.
public struct ItemText: Sendable, Hashable, Codable {
    public var fields: [String: [String]]

    public init(fields: [String: [String]] = [:]) {
        self.fields = fields.filter { !$0.value.isEmpty }
    }

    /// The loaders' fields by name.
    public init(
        title: String? = nil, genres: [String] = [], year: Int? = nil, tags: [String] = [],
        description: String? = nil, brand: String? = nil, categories: [String] = []
    ) {
        self.init(fields: [
            "title": title.map { [$0] } ?? [], "genres": genres, "year": year.map { [String($0)] } ?? [], "tags": tags,
            "description": description.map { [$0] } ?? [], "brand": brand.map { [$0] } ?? [], "categories": categories,
        ])
    }

    /// The values of field `name` (empty when the item has none); setting an empty list removes it.
    public subscript(name: String) -> [String] {
        get { fields[name] ?? [] }
        set { fields[name] = newValue.isEmpty ? nil : newValue }
    }

    /// Field `name` as one string, values joined by `separator` (nil when absent).
    /// "The Shawshank Redemption (1994)": MovieLens' "Title, The" turned round, the year
    /// appended; an item without a title is named by its position in the catalogue.
    public static func readableTitle(_ item: Int32, in items: [ItemText]) -> String {
        let text = item >= 0 && Int(item) < items.count ? items[Int(item)] : ItemText()
        guard var title = text.title?.trimmingCharacters(in: .whitespaces), !title.isEmpty else { return "item \(item)" }
        for article in ["The", "A", "An"] where title.hasSuffix(", \(article)") {
            title = article + " " + title.dropLast(article.count + 2)
        }
        if let year = text.year, !title.hasSuffix("(\(year))") { title += " (\(year))" }
        return title
    }

    public func text(_ name: String, separator: String = ", ") -> String? {
        fields[name].map { $0.joined(separator: separator) }
    }

    public var title: String? {
        get { self["title"].first }
        set { self["title"] = newValue.map { [$0] } ?? [] }
    }
    public var genres: [String] {
        get { self["genres"] }
        set { self["genres"] = newValue }
    }
    public var year: Int? {
        get { self["year"].first.flatMap { Int($0) } }
        set { self["year"] = newValue.map { [String($0)] } ?? [] }
    }
    public var tags: [String] {
        get { self["tags"] }
        set { self["tags"] = newValue }
    }
    public var description: String? {
        get { self["description"].first }
        set { self["description"] = newValue.map { [$0] } ?? [] }
    }
    public var brand: String? {
        get { self["brand"].first }
        set { self["brand"] = newValue.map { [$0] } ?? [] }
    }
    public var categories: [String] {
        get { self["categories"] }
        set { self["categories"] = newValue }
    }

    public var isEmpty: Bool { fields.isEmpty }
}

/// A loaded dataset: dense user and item ids, the original ids they came from, and item text.
public struct Dataset: Sendable {
    public var name: String
    /// Original user ids; `userIDs[u]` is the id of dense user `u`.
    public var userIDs: [String]
    /// Original item ids; `itemIDs[i]` is the id of dense item `i`.
    public var itemIDs: [String]
    public var interactions: [Interaction]
    /// Text per dense item (empty entries where the source has none).
    public var itemText: [ItemText]
    /// Whether `rating` carries explicit ratings (otherwise every rating is 1).
    public var hasRatings: Bool
    /// Whether `time` is a real timestamp (otherwise a per-user order).
    public var hasTimestamps: Bool
    /// Typed user fields (gender, age, occupation, ...), indexed by dense user.
    public var userFeatures: FeatureTable
    /// Typed item fields (genres, year, tags, ...), indexed by dense item.
    public var itemFeatures: FeatureTable

    public init(
        name: String, userIDs: [String], itemIDs: [String], interactions: [Interaction],
        itemText: [ItemText], hasRatings: Bool, hasTimestamps: Bool,
        userFeatures: FeatureTable = FeatureTable(), itemFeatures: FeatureTable = FeatureTable()
    ) {
        self.name = name
        self.userIDs = userIDs
        self.itemIDs = itemIDs
        self.interactions = interactions
        self.itemText = itemText
        self.hasRatings = hasRatings
        self.hasTimestamps = hasTimestamps
        self.userFeatures = userFeatures
        self.itemFeatures = itemFeatures
    }

    public var userCount: Int { userIDs.count }
    public var itemCount: Int { itemIDs.count }
}

/// A split dataset: every user's training history in time order, plus held-out interactions.
public struct SplitData: Sendable {
    public var dataset: Dataset
    public var train: [Interaction]
    public var validation: [Interaction]
    public var test: [Interaction]
    /// Training items per user (after any history-only prefix), in time order.
    public var trainHistory: [[Int32]]
    /// How interactions are labelled for pointwise tasks (`rating > 3`), if the data spec says.
    public var labelRule: LabelRule?

    /// Interactions that are history only (a pointwise split's per-user prefix): models read
    /// them in `trainHistory` but they are neither training samples nor held out.
    public var historyOnly: [Interaction]
    /// Items withheld from training and validation (a cold-start split), ascending: they are
    /// only held out, so a model meets them first at test time.
    public var coldItems: [Int32]

    public init(
        dataset: Dataset, train: [Interaction], validation: [Interaction], test: [Interaction], labelRule: LabelRule? = nil,
        historyOnly: [Interaction] = [], coldItems: [Int32] = []
    ) {
        self.dataset = dataset
        self.coldItems = coldItems
        self.train = train
        self.validation = validation
        self.test = test
        self.labelRule = labelRule
        self.historyOnly = historyOnly
        var history = [[Int32]](repeating: [], count: dataset.userCount)
        for event in (historyOnly + train).sorted(by: { ($0.user, $0.time) < ($1.user, $1.time) }) {
            history[Int(event.user)].append(event.item)
        }
        self.trainHistory = history
    }

    /// Each user's training items followed by their validation items, in time order: what a
    /// sequential model reads before the test item.
    public var historyBeforeTest: [[Int32]] {
        var history = trainHistory
        for event in validation.sorted(by: { ($0.user, $0.time) < ($1.user, $1.time) }) { history[Int(event.user)].append(event.item) }
        return history
    }

    /// What a plugin sees while it trains: the training interactions, and the validation
    /// interactions for early stopping.
    public var trainingSet: TrainingSet {
        TrainingSet(
            userCount: dataset.userCount, itemCount: dataset.itemCount, interactions: train,
            history: trainHistory, itemText: dataset.itemText, hasRatings: dataset.hasRatings, validation: validation,
            itemIDs: dataset.itemIDs, userFeatures: dataset.userFeatures, itemFeatures: dataset.itemFeatures, labelRule: labelRule,
            historyOnly: historyOnly)
    }

    /// Every interaction of the split per user in time order: what a behaviour-reading scorer
    /// looks back on when it predicts a test pair.
    public var timeline: Timeline { Timeline(userCount: dataset.userCount, historyOnly + train + validation + test) }
}

extension Collection where Element == Interaction {
    /// The mean rating, summed in Double in order (0 when there is none).
    public var meanRating: Float { Float(reduce(0.0) { $0 + Double($1.rating) } / Double(Swift.max(1, count))) }

    /// The lowest and highest rating (nil when there is none).
    public var ratingRange: ClosedRange<Float>? {
        guard let low = lazy.map(\.rating).min(), let high = lazy.map(\.rating).max() else { return nil }
        return low...high
    }
}

/// The training data handed to `Trainable.fit`.
public struct TrainingSet: Sendable {
    public var userCount: Int
    public var itemCount: Int
    public var interactions: [Interaction]
    /// Training items per user, in time order.
    public var history: [[Int32]]
    public var itemText: [ItemText]
    public var hasRatings: Bool
    /// Held-out validation interactions, for early stopping (never trained on).
    public var validation: [Interaction]
    /// The dataset's original item ids (`itemIDs[i]` names dense item `i`), for plugins that
    /// match items against outside files; empty when the caller has none.
    public var itemIDs: [String]
    public var userFeatures: FeatureTable
    public var itemFeatures: FeatureTable
    /// The label of each interaction for pointwise tasks; nil when the data spec gives none.
    public var labelRule: LabelRule?
    /// One vector per item from the pipeline's encoder (empty when it has none).
    public var itemVectors: [[Float]] = []
    /// Text the pipeline's user-level augment stages wrote from each user's training history,
    /// by the field name their `writes:` gives (empty when there are none).
    public var userText: [[String: String]] = []
    /// One vector per user from the encoder over `userText` (`encode_user_fields`; empty when
    /// the pipeline encodes no user text).
    public var userVectors: [[Float]] = []
    /// What the pipeline's derive stages built (semantic IDs, graph edges).
    public var derived = DerivedArtifacts()
    /// Interactions that are history only (a pointwise split's per-user prefix): neither
    /// samples nor held out, but part of the users' pasts.
    public var historyOnly: [Interaction]

    public init(
        userCount: Int, itemCount: Int, interactions: [Interaction], history: [[Int32]],
        itemText: [ItemText] = [], hasRatings: Bool = false, validation: [Interaction] = [], itemIDs: [String] = [],
        userFeatures: FeatureTable = FeatureTable(), itemFeatures: FeatureTable = FeatureTable(), labelRule: LabelRule? = nil,
        historyOnly: [Interaction] = []
    ) {
        self.historyOnly = historyOnly
        self.userCount = userCount
        self.itemCount = itemCount
        self.interactions = interactions
        self.history = history
        self.itemText = itemText
        self.hasRatings = hasRatings
        self.validation = validation
        self.itemIDs = itemIDs
        self.userFeatures = userFeatures
        self.itemFeatures = itemFeatures
        self.labelRule = labelRule
    }

    /// The binary label of `interaction` under the label rule (1 when there is none: every
    /// observed interaction is then a positive).
    public func label(_ interaction: Interaction) -> Float { labelRule?.label(interaction) ?? 1 }

    /// The users' pasts up to the validation interactions, in time order: the behaviour
    /// sequences of training and validation samples.
    public var timeline: Timeline { Timeline(userCount: userCount, historyOnly + interactions + validation) }

    /// Number of training interactions per item.
    public var itemPopularity: [Int] {
        var counts = [Int](repeating: 0, count: itemCount)
        for event in interactions { counts[Int(event.item)] += 1 }
        return counts
    }
}

/// A per-user prefix of interactions that is history only: each user's first
/// min(⌊(n + 1) · fraction⌋, max) interactions in time order (KAR: fraction 0.5, max 30).
public struct HistoryPrefix: Sendable, Codable, Equatable {
    public var fraction: Double
    public var max: Int

    public init(fraction: Double = 0.5, max: Int = 30) {
        self.fraction = fraction
        self.max = max
    }
}

/// How interactions are divided into train, validation and test (see `Dataset.split`).
public enum SplitMethod: String, Sendable, Codable, CaseIterable {
    case leaveOneOut = "leave_one_out"
    case temporal
    case random
    case user
}
