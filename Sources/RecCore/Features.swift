/// The types a user or item feature field can have, as RecBole declares them in atomic-file
/// headers (`token`, `token_seq`, `float`, text).
public enum FeatureKind: String, Sendable, Codable, CaseIterable {
    /// One value from a vocabulary (gender, occupation, a zip code).
    case categorical
    /// Any number of values from a vocabulary (genres, tags).
    case multiCategorical = "multi_categorical"
    /// A number (age as written in u.user, a price).
    case numeric
    /// Free text (a title, a description), for encoders and prompts.
    case text
}

/// One feature field over all users or all items, indexed by dense id.
///
/// Categorical values are codes into `vocabulary`; code 0 is reserved for "missing", so a
/// user or item the source says nothing about gets 0 and embedding tables can give it a row.
public struct FeatureField: Sendable, Equatable {
    public var name: String
    public var kind: FeatureKind
    /// `vocabulary[0] == ""` (missing); codes index it. Empty for numeric and text fields.
    public var vocabulary: [String]
    /// Per entity: one code (categorical), any number of codes (multi-categorical).
    public var codes: [[Int32]]
    /// Per entity (numeric); NaN where the value is missing.
    public var numbers: [Float]
    /// Per entity (text); empty where missing.
    public var texts: [String]

    /// A categorical or multi-categorical field from string values, coded in order of first
    /// appearance (so the coding does not depend on hash order).
    public static func categorical(_ name: String, multi: Bool = false, values: [[String]]) -> FeatureField {
        var vocabulary = [""]
        var index: [String: Int32] = ["": 0]
        let codes = values.map { entity -> [Int32] in
            let coded = entity.filter { !$0.isEmpty }.map { value -> Int32 in
                if let code = index[value] { return code }
                let code = Int32(vocabulary.count)
                index[value] = code
                vocabulary.append(value)
                return code
            }
            return multi ? coded : [coded.first ?? 0]
        }
        return FeatureField(name: name, kind: multi ? .multiCategorical : .categorical, vocabulary: vocabulary, codes: codes, numbers: [], texts: [])
    }

    public static func numeric(_ name: String, values: [Float]) -> FeatureField {
        FeatureField(name: name, kind: .numeric, vocabulary: [], codes: [], numbers: values, texts: [])
    }

    public static func text(_ name: String, values: [String]) -> FeatureField {
        FeatureField(name: name, kind: .text, vocabulary: [], codes: [], numbers: [], texts: values)
    }

    /// Number of entities the field covers.
    public var count: Int {
        switch kind {
        case .categorical, .multiCategorical: return codes.count
        case .numeric: return numbers.count
        case .text: return texts.count
        }
    }

    /// The field restricted to `kept` entities, in that order (after filtering renumbers ids).
    public func selecting(_ kept: [Int]) -> FeatureField {
        var copy = self
        switch kind {
        case .categorical, .multiCategorical: copy.codes = kept.map { codes[$0] }
        case .numeric: copy.numbers = kept.map { numbers[$0] }
        case .text: copy.texts = kept.map { texts[$0] }
        }
        return copy
    }
}

/// The feature fields of one entity type (users or items), all of the same length.
public struct FeatureTable: Sendable, Equatable {
    public private(set) var fields: [FeatureField]

    public init(_ fields: [FeatureField] = []) { self.fields = fields }

    public var isEmpty: Bool { fields.isEmpty }
    public var names: [String] { fields.map(\.name) }

    public subscript(name: String) -> FeatureField? { fields.first { $0.name == name } }

    /// Adds or replaces the field called `field.name`.
    public mutating func set(_ field: FeatureField) {
        if let index = fields.firstIndex(where: { $0.name == field.name }) { fields[index] = field } else { fields.append(field) }
    }

    public func selecting(_ kept: [Int]) -> FeatureTable { FeatureTable(fields.map { $0.selecting(kept) }) }

    /// One entity's values as text, by field name (multi-valued fields joined by ", "; numbers
    /// as written; missing values left out), for prompts.
    public func values(of entity: Int) -> [String: String] {
        var values: [String: String] = [:]
        for field in fields where entity < field.count {
            switch field.kind {
            case .categorical, .multiCategorical:
                let words = field.codes[entity].filter { $0 > 0 }.map { field.vocabulary[Int($0)] }
                if !words.isEmpty { values[field.name] = words.joined(separator: ", ") }
            case .numeric:
                let number = field.numbers[entity]
                if !number.isNaN { values[field.name] = number == number.rounded() && abs(number) < 1e9 ? String(Int(number)) : String(number) }
            case .text:
                if !field.texts[entity].isEmpty { values[field.name] = field.texts[entity] }
            }
        }
        return values
    }

    /// Bytes that identify the table, for stage-cache keys.
    public func hash(into hasher: inout SHA256) {
        for field in fields {
            hasher.update("\(field.name)|\(field.kind.rawValue)|\(field.count)|")
            for value in field.vocabulary { hasher.update(value); hasher.update([0]) }
            for entity in field.codes { hasher.update("\(entity.count):"); entity.withUnsafeBytes { hasher.update($0) } }
            field.numbers.map(\.bitPattern).withUnsafeBytes { hasher.update($0) }
            for value in field.texts { hasher.update(value); hasher.update([0]) }
        }
    }
}

/// Turns an interaction's rating into a binary label for pointwise tasks: `rating > 3` as in
/// KAR's ML-1M protocol. The interactions themselves are kept; only their label is derived.
public struct LabelRule: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Comparison: String, Sendable, Codable, CaseIterable {
        case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<=", equal = "=="
    }

    /// The interaction field the rule reads; only `rating` exists today.
    public var field: String
    public var comparison: Comparison
    public var threshold: Double

    public init(field: String = "rating", _ comparison: Comparison, _ threshold: Double) {
        self.field = field
        self.comparison = comparison
        self.threshold = threshold
    }

    /// The interaction fields a rule may name.
    public static let fields = ["rating"]

    /// Parses `FIELD OP NUMBER`, e.g. `rating > 3`.
    /// - Throws: a message (without location; the caller adds it) naming what is wrong.
    public init(parsing text: String) throws {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        // Longest operators first, so `>=` is not read as `>`.
        let operators = Comparison.allCases.map(\.rawValue).sorted { $0.count > $1.count }
        var field = "", op = "", number = ""
        if parts.count == 3 {
            (field, op, number) = (parts[0], parts[1], parts[2])
        } else if let found = operators.first(where: { text.contains($0) }), let range = text.range(of: found) {
            field = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            op = found
            number = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
        }
        guard let comparison = Comparison(rawValue: op) else {
            throw RecError(.spec, "label rule '\(Excerpt.of(text))' must read FIELD OP NUMBER with OP one of \(Comparison.allCases.map(\.rawValue).joined(separator: " ")), e.g. 'rating > 3'")
        }
        guard Self.fields.contains(field) else {
            throw RecError(.spec, "label rule '\(Excerpt.of(text))' names the field '\(Excerpt.of(field))', which interactions do not have; fields: \(Self.fields.joined(separator: ", "))")
        }
        guard let threshold = Double(number), threshold.isFinite else {
            throw RecError(.spec, "label rule '\(Excerpt.of(text))' must compare with a finite number, not '\(Excerpt.of(number))'")
        }
        self.init(field: field, comparison, threshold)
    }

    public var description: String {
        let number = threshold == threshold.rounded() && abs(threshold) < 1e15 ? String(Int(threshold)) : String(threshold)
        return "\(field) \(comparison.rawValue) \(number)"
    }

    /// 1 when the interaction is positive under the rule, else 0.
    public func label(_ interaction: Interaction) -> Float {
        let value = Double(interaction.rating)
        let positive: Bool
        switch comparison {
        case .greater: positive = value > threshold
        case .greaterOrEqual: positive = value >= threshold
        case .less: positive = value < threshold
        case .lessOrEqual: positive = value <= threshold
        case .equal: positive = value == threshold
        }
        return positive ? 1 : 0
    }
}
