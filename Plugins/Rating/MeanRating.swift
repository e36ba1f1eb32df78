import RecCore

/// The rating baselines every rating-prediction paper starts from: the global mean, or each
/// user's or item's mean rating (the global mean for users and items without training ratings).
///
/// ```yaml
/// scorer: { type: mean_rating, by: user }
/// ```
public struct MeanRating: Scorer, Trainable {
    public struct Configuration: Codable, Sendable, Equatable {
        public enum Grouping: String, Codable, Sendable, CaseIterable { case global, user, item }
        public var by: Grouping = .global

        enum CodingKeys: String, CodingKey, CaseIterable { case by }

        public init(by: Grouping = .global) { self.by = by }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            by = try c.decode(.by, default: Grouping.global)
        }
    }

    public static let kind = "mean_rating"
    public static let summary = "global, per-user or per-item mean rating"
    public let configuration: Configuration
    public var predicts: PredictionKind { .rating }
    private var global: Float = 0
    private var means: [Float] = []

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard !data.interactions.isEmpty else { throw RecError(.plugin, "mean_rating has no training ratings") }
        global = data.interactions.meanRating
        let count = configuration.by == .user ? data.userCount : configuration.by == .item ? data.itemCount : 0
        var sums = [Double](repeating: 0, count: count), counts = [Int](repeating: 0, count: count)
        for event in data.interactions where count > 0 {
            let key = Int(configuration.by == .user ? event.user : event.item)
            sums[key] += Double(event.rating)
            counts[key] += 1
        }
        means = (0..<count).map { counts[$0] > 0 ? Float(sums[$0] / Double(counts[$0])) : global }
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        switch configuration.by {
        case .global: return users.map { _ in global }
        case .user: return users.map { Int($0) < means.count ? means[Int($0)] : global }
        case .item: return items.map { Int($0) < means.count ? means[Int($0)] : global }
        }
    }
}
