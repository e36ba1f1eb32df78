import RecCore

/// How a CTR model's named fields become rows of one embedding table, as RecBole's
/// context-aware models lay them out: every field owns a contiguous block of rows, and a
/// (user, item) pair is a list of fields, each a few (row, value) tokens.
///
/// - `user_id`, `item_id` and categorical fields: one token with value 1; code 0 ("missing")
///   has a row of its own.
/// - multi-categorical fields (genres): one token per value; the second-order field vector is
///   their mean and the first-order weight their sum (RecBole's pooling for `token_seq`).
/// - numeric fields: one row scaled by the value, standardised over the entities (missing: 0).
struct FieldLayout: Sendable, Equatable {
    enum Source: Int32, Sendable { case user = 0, item = 1 }

    struct Token: Sendable, Equatable {
        var row: Int32
        var value: Float
    }

    struct Field: Sendable, Equatable {
        var name: String
        var source: Source
        var kind: FeatureKind
    }

    var fields: [Field]
    var rowCount: Int
    /// `userTokens[u][f]`: the tokens of user field `f` (fields of source `.user`, in order).
    var userTokens: [[[Token]]]
    var itemTokens: [[[Token]]]

    /// The field names a configuration may list: `user_id`, `item_id`, and every user and item
    /// feature that is not text. A name both tables have must be written `user.NAME` or
    /// `item.NAME`.
    ///
    /// `NAME:first` is the first value of a multi-valued field as a categorical field (KAR
    /// reads a movie's first genre only).
    static func resolve(_ name: String, users: FeatureTable, items: FeatureTable) throws -> (Source, FeatureField?) {
        if name.hasSuffix(":first") {
            let (source, field) = try resolve(String(name.dropLast(6)), users: users, items: items)
            guard var field, field.kind == .multiCategorical else {
                throw RecError(.spec, "field '\(Excerpt.of(name))': ':first' takes the first value of a multi-valued field, and '\(name.dropLast(6))' is not one", key: "fields")
            }
            field.kind = .categorical
            field.codes = field.codes.map { [$0.first ?? 0] }
            return (source, field)
        }
        if name == "user_id" { return (.user, nil) }
        if name == "item_id" { return (.item, nil) }
        let (source, bare): (Source?, String) =
            name.hasPrefix("user.") ? (.user, String(name.dropFirst(5))) : name.hasPrefix("item.") ? (.item, String(name.dropFirst(5))) : (nil, name)
        let user = source != .item ? users[bare] : nil
        let item = source != .user ? items[bare] : nil
        if user != nil && item != nil {
            throw RecError(.spec, "field '\(name)' is both a user and an item feature; write user.\(bare) or item.\(bare)", key: "fields")
        }
        guard let field = user ?? item else {
            let known = ["user_id", "item_id"] + users.fields.filter { $0.kind != .text }.map(\.name) + items.fields.filter { $0.kind != .text }.map(\.name)
            var message = "field '\(Excerpt.of(name))' is not a feature of this dataset; fields: \(known.joined(separator: ", "))"
            if let near = nearest(name, in: known) { message += " (did you mean '\(near)'?)" }
            throw RecError(.spec, message, key: "fields")
        }
        guard field.kind != .text else {
            throw RecError(.spec, "field '\(name)' is text; a CTR model reads categorical, multi-categorical and numeric fields (encode text into vectors first)", key: "fields")
        }
        return (user != nil ? .user : .item, field)
    }

    /// The default field list: both ids and every non-text feature except zip codes (too
    /// sparse to help, as KAR and RecBole's examples leave them out).
    static func defaultFields(users: FeatureTable, items: FeatureTable) -> [String] {
        let names = ["user_id", "item_id"] + users.fields.filter { $0.kind != .text && $0.name != "zip_code" }.map { items[$0.name] != nil ? "user.\($0.name)" : $0.name }
        return names + items.fields.filter { $0.kind != .text }.map { users[$0.name] != nil ? "item.\($0.name)" : $0.name }
    }

    init(fieldNames: [String], userCount: Int, itemCount: Int, users: FeatureTable, items: FeatureTable) throws {
        var fields: [Field] = []
        var userTokens = [[[Token]]](repeating: [], count: userCount)
        var itemTokens = [[[Token]]](repeating: [], count: itemCount)
        var rows = 0
        for name in fieldNames {
            let (source, feature) = try Self.resolve(name, users: users, items: items)
            let count = source == .user ? userCount : itemCount
            var tokens: [[Token]]
            if let feature {
                guard feature.count == count else {
                    throw RecError(.plugin, "feature '\(name)' covers \(feature.count) entities, expected \(count)")
                }
                switch feature.kind {
                case .categorical, .multiCategorical:
                    let multi = feature.kind == .multiCategorical
                    tokens = feature.codes.map { codes in codes.map { Token(row: Int32(rows) + $0, value: 1) } }
                    if multi { tokens = tokens.map { $0.filter { $0.row != Int32(rows) } } }
                    rows += feature.vocabulary.count
                case .numeric:
                    let present = feature.numbers.filter { !$0.isNaN }.map(Double.init)
                    let mean = present.isEmpty ? 0 : present.reduce(0, +) / Double(present.count)
                    let variance = present.isEmpty ? 0 : present.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(present.count)
                    let scale = variance > 0 ? 1 / variance.squareRoot() : 1
                    tokens = feature.numbers.map { [Token(row: Int32(rows), value: $0.isNaN ? 0 : Float((Double($0) - mean) * scale))] }
                    rows += 1
                case .text:
                    preconditionFailure("resolve refuses text fields")
                }
            } else {
                tokens = (0..<count).map { [Token(row: Int32(rows + $0), value: 1)] }
                rows += count
            }
            fields.append(Field(name: name, source: source, kind: feature?.kind ?? .categorical))
            for entity in 0..<count {
                if source == .user { userTokens[entity].append(tokens[entity]) } else { itemTokens[entity].append(tokens[entity]) }
            }
        }
        self.fields = fields
        self.rowCount = rows
        self.userTokens = userTokens
        self.itemTokens = itemTokens
    }

    /// Whether the field list pools a multi-valued field (mean for the second-order vector).
    func isMulti(_ source: Source, _ index: Int) -> Bool {
        fields.filter { $0.source == source }[index].kind == .multiCategorical
    }

    // MARK: - Checkpoints

    func write(to writer: inout CheckpointWriter) {
        writer.int(rowCount)
        writer.int(fields.count)
        for field in fields {
            writer.string(field.name)
            writer.int(Int(field.source.rawValue))
            writer.string(field.kind.rawValue)
        }
        for table in [userTokens, itemTokens] {
            writer.int(table.count)
            for entity in table {
                writer.int(entity.count)
                for tokens in entity {
                    writer.int32s(tokens.map(\.row))
                    writer.floats(tokens.map(\.value))
                }
            }
        }
    }

    init(from reader: inout CheckpointReader) throws {
        rowCount = try reader.count(atMost: 1 << 31)
        let fieldCount = try reader.count(atMost: 10_000)
        fields = try (0..<fieldCount).map { _ in
            let name = try reader.string()
            guard let source = Source(rawValue: Int32(try reader.count(atMost: 1))), let kind = FeatureKind(rawValue: try reader.string()) else {
                throw RecError(.plugin, "CTR checkpoint names an unknown field source or kind")
            }
            return Field(name: name, source: source, kind: kind)
        }
        var tables: [[[[Token]]]] = []
        for _ in 0..<2 {
            let count = try reader.count(atMost: 1 << 31)
            var table: [[[Token]]] = []
            for _ in 0..<count {
                let perEntity = try reader.count(atMost: fieldCount)
                var entity: [[Token]] = []
                for _ in 0..<perEntity {
                    let rows = try reader.int32s(), values = try reader.floats()
                    let limit = Int32(clamping: rowCount)
                    guard rows.count == values.count, rows.allSatisfy({ $0 >= 0 && $0 < limit }) else {
                        throw RecError(.plugin, "CTR checkpoint holds a token outside its \(limit) rows")
                    }
                    entity.append(zip(rows, values).map { Token(row: $0, value: $1) })
                }
                table.append(entity)
            }
            tables.append(table)
        }
        userTokens = tables[0]
        itemTokens = tables[1]
    }
}
