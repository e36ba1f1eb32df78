import RecCore

/// Most-popular items: every user gets the items with the most training interactions.
///
/// ```yaml
/// retriever: { type: popularity }
/// ```
public struct Popularity: Retriever, Trainable {
    public struct Configuration: Codable, Sendable, Equatable {
        public init() {}
        public init(from decoder: any Decoder) throws { _ = try decoder.container(keyedBy: AnyCodingKey.self) }
        public func encode(to encoder: any Encoder) throws { _ = encoder.container(keyedBy: AnyCodingKey.self) }
    }

    public static let kind = "popularity"
    public static let summary = "most popular items by training interaction count (RecBole Pop)"
    public let configuration: Configuration
    private var counts: [Float] = []

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        counts = data.itemPopularity.map { Float($0) }
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        let n = counts.count
        for row in 0..<users.count {
            _ = UnsafeMutableBufferPointer(rebasing: scores[(row * n)..<((row + 1) * n)]).update(fromContentsOf: counts)
        }
    }
}

/// A coding key for configurations with no fixed keys.
public struct AnyCodingKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}
