import Foundation
import RecCore

/// Collects interactions with original ids and assigns dense ids in order of first appearance.
struct DatasetBuilder {
    var name: String
    var userIndex: [String: Int32] = [:]
    var itemIndex: [String: Int32] = [:]
    var userIDs: [String] = []
    var itemIDs: [String] = []
    var interactions: [Interaction] = []
    var textByItem: [String: ItemText] = [:]
    var userColumns = FeatureColumns()
    var itemColumns = FeatureColumns()

    init(name: String) { self.name = name }

    mutating func user(_ id: String) -> Int32 {
        if let dense = userIndex[id] { return dense }
        let dense = Int32(userIDs.count)
        userIndex[id] = dense
        userIDs.append(id)
        return dense
    }

    mutating func item(_ id: String) -> Int32 {
        if let dense = itemIndex[id] { return dense }
        let dense = Int32(itemIDs.count)
        itemIndex[id] = dense
        itemIDs.append(id)
        return dense
    }

    mutating func add(user: String, item: String, rating: Float, time: Int64) {
        interactions.append(Interaction(user: self.user(user), item: self.item(item), rating: rating, time: time))
    }

    /// Adds one `user, item, rating, time` row, checking its field count and numbers.
    /// - Parameters:
    ///   - layout: how the four fields are described in the error (`"tab-separated"`).
    ///   - timeName: what the fourth field is (`"a timestamp"`, `"a sequence position"`).
    mutating func addRow(_ fields: [(Substring, Int)], layout: String, timeName: String, file: TextFile, line: Int) throws {
        guard fields.count == 4 else {
            throw RecError.data("expected 4 \(layout) fields (user, item, rating, \(timeName.split(separator: " ").last!)), found \(fields.count)", at: file.location(line: line))
        }
        let rating = try parseField(fields[2].0, as: parseRating, what: "a rating", file: file, line: line, column: fields[2].1)
        let time = try parseField(fields[3].0, as: { Int64($0) }, what: timeName, file: file, line: line, column: fields[3].1)
        add(user: String(fields[0].0), item: String(fields[1].0), rating: rating, time: time)
    }

    /// The dataset; only items that occur in an interaction are kept, with their text.
    func build(file: String, hasRatings: Bool, hasTimestamps: Bool) throws -> Dataset {
        guard !interactions.isEmpty else {
            throw RecError.data("'\(file)' holds no interactions")
        }
        return Dataset(
            name: name, userIDs: userIDs, itemIDs: itemIDs, interactions: interactions,
            itemText: itemIDs.map { textByItem[$0] ?? ItemText() },
            hasRatings: hasRatings, hasTimestamps: hasTimestamps,
            userFeatures: userColumns.table(ids: userIDs), itemFeatures: itemColumns.table(ids: itemIDs))
    }
}

/// Feature values keyed by original id while a file is read, turned into a `FeatureTable`
/// over dense ids once the interactions have fixed them. Fields keep their declaration order.
struct FeatureColumns {
    private(set) var declared: [(name: String, kind: FeatureKind)] = []
    private var values: [String: [String: [String]]] = [:]

    /// Declares a field; a repeated name keeps its first kind.
    mutating func declare(_ name: String, _ kind: FeatureKind) {
        guard values[name] == nil else { return }
        declared.append((name, kind))
        values[name] = [:]
    }

    /// Sets the field's values for entity `id` (one value unless multi-categorical). Numeric
    /// values must already have been checked by the loader, which knows the line and column.
    mutating func set(_ name: String, id: String, _ entries: [String]) {
        values[name, default: [:]][id] = entries
    }

    /// Appends to a multi-categorical field (tags gathered from many rows), without repeats.
    mutating func append(_ name: String, id: String, _ entry: String) {
        var current = values[name]?[id] ?? []
        if !current.contains(entry) { current.append(entry) }
        values[name, default: [:]][id] = current
    }

    func table(ids: [String]) -> FeatureTable {
        FeatureTable(
            declared.map { name, kind in
                let byID = values[name] ?? [:]
                switch kind {
                case .categorical, .multiCategorical:
                    return .categorical(name, multi: kind == .multiCategorical, values: ids.map { byID[$0] ?? [] })
                case .numeric:
                    return .numeric(name, values: ids.map { byID[$0]?.first.flatMap { Float($0) } ?? .nan })
                case .text:
                    return .text(name, values: ids.map { byID[$0]?.first ?? "" })
                }
            })
    }
}

/// `Toy Story (1995)` -> ("Toy Story", 1995).
func splitTitleYear(_ raw: String) -> (String, Int?) {
    let title = raw.trimmingCharacters(in: .whitespaces)
    guard title.hasSuffix(")"), let open = title.lastIndex(of: "(") else { return (title, nil) }
    let inside = title[title.index(after: open)..<title.index(before: title.endIndex)]
    guard inside.count == 4, let year = Int(inside) else { return (title, nil) }
    return (String(title[..<open]).trimmingCharacters(in: .whitespaces), year)
}

/// A rating: a finite number of modest size (Float would turn 1e300 into infinity, and NaN
/// compares false with every threshold).
func parseRating(_ text: Substring) -> Float? {
    guard let value = Float(text), value.isFinite, abs(value) <= 1e9 else { return nil }
    return value
}

/// A timestamp written as a number, possibly with a fraction (RecBole writes floats): its
/// whole seconds, if finite and within the range of Int64.
func parseTimestamp(_ text: Substring) -> Int64? {
    if let whole = Int64(text) { return whole }
    guard let value = Double(text), value.isFinite else { return nil }
    return Int64(exactly: value.rounded(.down))
}

/// Parses a field, or throws an error at its line and column.
func parseField<T>(
    _ text: Substring, as parse: (Substring) -> T?, what: String, file: TextFile, line: Int, column: Int
) throws -> T {
    guard let value = parse(text) else {
        throw RecError.data("expected \(what), found \"\(Excerpt.of(String(text)))\"", at: file.location(line: line, column: column))
    }
    return value
}

/// Splits on a separator and returns each field with its 1-based column.
func fieldsWithColumns(_ line: String, separator: String) -> [(Substring, Int)] {
    var result: [(Substring, Int)] = []
    var column = 1
    for part in line.components(separatedBy: separator) {
        result.append((Substring(part), column))
        column += part.count + separator.count
    }
    return result
}
