import Foundation
import RecCore

/// Shared helpers for RecLab's tests: fixture paths and synthetic data with known structure.
public enum Fixtures {
    /// `Tests/Fixtures` of this checkout.
    public static var directory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures").path
    }

    /// The package root (for finding the built `reclab` and the Experiments folder).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Whether tests of the model file at `path` (relative to `$RECLAB_MODELS`, default
    /// `models`) should run: when it is there, and always under CI=true, where its absence is a
    /// failure rather than a skip.
    public static func modelRequired(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: ModelFiles.root() + "/" + path) || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// A fresh temporary folder.
    public static func temporaryDirectory(_ label: String = "reclab-test") -> String {
        let path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Users fall into `clusters` groups and mostly interact with their group's items, so any
    /// collaborative model beats popularity clearly. Deterministic for a seed.
    public static func clusteredDataset(users: Int = 120, items: Int = 60, clusters: Int = 4, perUser: ClosedRange<Int> = 8...16, seed: UInt64 = 1) -> Dataset {
        var rng = SplitMix64(seed: seed)
        var interactions: [Interaction] = []
        var time: Int64 = 0
        let block = items / clusters
        for user in 0..<users {
            let cluster = user % clusters
            var chosen = Set<Int32>()
            let count = perUser.lowerBound + rng.nextInt(below: perUser.count)
            while chosen.count < count {
                let item = rng.nextInt(below: 10) < 8 ? cluster * block + rng.nextInt(below: block) : rng.nextInt(below: items)
                chosen.insert(Int32(item))
            }
            for item in chosen.sorted().shuffled(using: &rng) {
                time += 1
                interactions.append(Interaction(user: Int32(user), item: item, rating: Float(1 + rng.nextInt(below: 5)), time: time))
            }
        }
        return Dataset(
            name: "clustered", userIDs: (0..<users).map { "u\($0)" }, itemIDs: (0..<items).map { "i\($0)" },
            interactions: interactions, itemText: (0..<items).map { ItemText(title: "Item \($0)") },
            hasRatings: true, hasTimestamps: true)
    }
}

extension Fixtures {
    /// The clustered dataset with ratings that follow the clusters (4-5 inside the user's
    /// cluster and for every third item, 1-3 otherwise), a user field `cluster` and an item field `genres` naming the
    /// item's cluster, so a scorer that reads features or ids beats chance on `rating > 3`.
    public static func labelledDataset(users: Int = 120, items: Int = 60, clusters: Int = 4, seed: UInt64 = 1) -> Dataset {
        var dataset = clusteredDataset(users: users, items: items, clusters: clusters, perUser: 10...20, seed: seed)
        var rng = SplitMix64(seed: seed).derived("labels")
        let block = items / clusters
        func cluster(ofItem item: Int) -> Int { min(clusters - 1, item / block) }
        dataset.interactions = dataset.interactions.map { event in
            var event = event
            // Liked: items of the user's cluster, and every third item by everyone (an item
            // effect that models without interactions, such as LR or item means, can learn).
            let liked = Int(event.user) % clusters == cluster(ofItem: Int(event.item)) || event.item % 3 == 0
            // One rating in ten goes the other way, so the labels are not a function of the ids.
            let flipped = rng.nextInt(below: 10) == 0
            event.rating = Float((liked != flipped) ? 4 + rng.nextInt(below: 2) : 1 + rng.nextInt(below: 3))
            return event
        }
        dataset.userFeatures = FeatureTable([.categorical("cluster", values: (0..<users).map { ["c\($0 % clusters)"] })])
        dataset.itemFeatures = FeatureTable([.categorical("genres", multi: true, values: (0..<items).map { ["c\(cluster(ofItem: $0))"] })])
        return dataset
    }
}

/// Collects training events for assertions.
public final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [TrainingEvent] = []

    public init() {}

    public var events: [TrainingEvent] { lock.withLock { stored } }
    public var losses: [Double] { events.compactMap { if case .epochEnd(_, _, let loss) = $0 { return loss } else { return nil } } }
    public var messages: [String] { events.compactMap { if case .message(let text) = $0 { return text } else { return nil } } }
    /// The validation values reported, in order, with their epochs.
    public var validations: [(epoch: Int, metric: String, value: Double)] {
        events.compactMap { if case .validation(let epoch, let metric, let value) = $0 { return (epoch, metric, value) } else { return nil } }
    }

    public func context(seed: UInt64) -> TrainingContext {
        TrainingContext(seed: seed) { event in self.lock.withLock { self.stored.append(event) } }
    }
}

/// The configuration of a test component that has none: it decodes from any YAML, every key
/// ignored.
public struct AnyKeysConfiguration: Codable, Sendable, Equatable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
}
