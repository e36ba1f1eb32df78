import RecCore

extension Dataset {
    /// Keeps interactions with `rating >= threshold` (explicit ratings to implicit feedback).
    public func filtered(ratingAtLeast threshold: Double) -> Dataset {
        var copy = self
        copy.interactions = interactions.filter { Double($0.rating) >= threshold }
        return copy.compacted()
    }

    /// The dataset with one interaction per (user, item) pair: the latest by time, the later
    /// in the file on a tie. Leave-one-out with a repeated pair would hold out an item that is
    /// also in training, and excluding known items would then hide every test item.
    /// - Returns: the dataset, how many interactions were dropped, and the first repeated pair.
    public func withoutDuplicates() -> (dataset: Dataset, dropped: Int, example: (user: String, item: String)?) {
        var kept: [Int64: Int] = [:]
        kept.reserveCapacity(interactions.count)
        var example: (String, String)?
        for (index, event) in interactions.enumerated() {
            let pair = Int64(event.user) << 32 | Int64(event.item)
            if let previous = kept[pair] {
                if example == nil { example = (userIDs[Int(event.user)], itemIDs[Int(event.item)]) }
                if event.time >= interactions[previous].time { kept[pair] = index }
            } else {
                kept[pair] = index
            }
        }
        let dropped = interactions.count - kept.count
        guard dropped > 0 else { return (self, 0, nil) }
        let survivors = Set(kept.values)
        var copy = self
        copy.interactions = interactions.indices.filter { survivors.contains($0) }.map { interactions[$0] }
        return (copy, dropped, example)
    }

    /// k-core filtering: removes users with fewer than `minUser` and items with fewer than
    /// `minItem` interactions, repeatedly, until both hold everywhere.
    public func kCore(minUser: Int, minItem: Int) -> Dataset {
        guard minUser > 1 || minItem > 1 else { return self }
        var kept = interactions
        while true {
            var userCounts = [Int](repeating: 0, count: userCount)
            var itemCounts = [Int](repeating: 0, count: itemCount)
            for event in kept {
                userCounts[Int(event.user)] += 1
                itemCounts[Int(event.item)] += 1
            }
            let next = kept.filter { userCounts[Int($0.user)] >= minUser && itemCounts[Int($0.item)] >= minItem }
            if next.count == kept.count { break }
            kept = next
        }
        var copy = self
        copy.interactions = kept
        return copy.compacted()
    }

    /// Drops users and items with no interaction left and renumbers the rest densely, keeping
    /// their relative order.
    public func compacted() -> Dataset {
        var userMap = [Int32](repeating: -1, count: userCount)
        var itemMap = [Int32](repeating: -1, count: itemCount)
        for event in interactions {
            userMap[Int(event.user)] = 0
            itemMap[Int(event.item)] = 0
        }
        var users: [String] = [], items: [String] = [], text: [ItemText] = []
        for u in 0..<userCount where userMap[u] == 0 {
            userMap[u] = Int32(users.count)
            users.append(userIDs[u])
        }
        for i in 0..<itemCount where itemMap[i] == 0 {
            itemMap[i] = Int32(items.count)
            items.append(itemIDs[i])
            text.append(i < itemText.count ? itemText[i] : ItemText())
        }
        let remapped = interactions.map {
            Interaction(user: userMap[Int($0.user)], item: itemMap[Int($0.item)], rating: $0.rating, time: $0.time)
        }
        let keptUsers = (0..<userCount).filter { userMap[$0] >= 0 }
        let keptItems = (0..<itemCount).filter { itemMap[$0] >= 0 }
        return Dataset(
            name: name, userIDs: users, itemIDs: items, interactions: remapped, itemText: text,
            hasRatings: hasRatings, hasTimestamps: hasTimestamps,
            userFeatures: userFeatures.selecting(keptUsers), itemFeatures: itemFeatures.selecting(keptItems))
    }

    /// A SHA-256 over everything a model can see: ids, interactions in order, and item text.
    public var fingerprint: String {
        var hasher = SHA256()
        hasher.update("\(name)|\(userCount)|\(itemCount)|\(interactions.count)|")
        // Fields one by one: the struct has padding bytes, whose contents are undefined.
        var packed = [Int64]()
        packed.reserveCapacity(interactions.count * 3)
        for event in interactions {
            packed.append(Int64(event.user) << 32 | Int64(event.item))
            packed.append(Int64(event.rating.bitPattern))
            packed.append(event.time)
        }
        packed.withUnsafeBytes { hasher.update($0) }
        for id in userIDs { hasher.update(id); hasher.update([0]) }
        for id in itemIDs { hasher.update(id); hasher.update([0]) }
        for text in itemText {
            hasher.update(text.title ?? "")
            hasher.update(text.genres.joined(separator: "|"))
            hasher.update(text.year.map(String.init) ?? "")
            hasher.update([0])
        }
        userFeatures.hash(into: &hasher)
        itemFeatures.hash(into: &hasher)
        return hasher.finalize().hexString
    }

    /// Counts for reports and `reclab data stats`.
    public var statistics: DatasetStatistics {
        let withText = itemText.filter { $0.title != nil }.count
        return DatasetStatistics(
            name: name, users: userCount, items: itemCount, interactions: interactions.count,
            itemsWithTitle: withText, hasRatings: hasRatings, hasTimestamps: hasTimestamps,
            userFields: userFeatures.isEmpty ? nil : userFeatures.fields.map { "\($0.name):\($0.kind.rawValue)" },
            itemFields: itemFeatures.isEmpty ? nil : itemFeatures.fields.map { "\($0.name):\($0.kind.rawValue)" })
    }
}

public struct DatasetStatistics: Sendable, Codable, Equatable {
    public var name: String
    public var users: Int
    public var items: Int
    public var interactions: Int
    public var itemsWithTitle: Int
    public var hasRatings: Bool
    public var hasTimestamps: Bool
    /// Repeated (user, item) interactions dropped on loading (nil: none).
    public var duplicatesDropped: Int?
    /// Feature fields as `name:kind` (nil: none).
    public var userFields: [String]?
    public var itemFields: [String]?

    public init(
        name: String, users: Int, items: Int, interactions: Int, itemsWithTitle: Int, hasRatings: Bool, hasTimestamps: Bool,
        duplicatesDropped: Int? = nil, userFields: [String]? = nil, itemFields: [String]? = nil
    ) {
        self.name = name
        self.users = users
        self.items = items
        self.interactions = interactions
        self.itemsWithTitle = itemsWithTitle
        self.hasRatings = hasRatings
        self.hasTimestamps = hasTimestamps
        self.duplicatesDropped = duplicatesDropped
        self.userFields = userFields
        self.itemFields = itemFields
    }

    public var density: Double { Double(interactions) / Double(max(1, users * items)) }
}
