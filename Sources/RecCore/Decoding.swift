import Foundation

extension KeyedDecodingContainer {
    /// Decodes `key`, or returns `defaultValue` when the key is absent.
    @inlinable
    public func decode<T: Decodable>(_ key: Key, default defaultValue: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? defaultValue
    }

    /// Decodes `key` with a default and checks that it lies in `range`; the error names the key.
    public func decode<T: Decodable & Comparable>(
        _ key: Key, default defaultValue: T, in range: ClosedRange<T>
    ) throws -> T {
        let value = try decode(key, default: defaultValue)
        guard range.contains(value) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self,
                debugDescription: "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// Decodes one of an enumeration's names, or returns `defaultValue` when the key is absent;
    /// another name is an error that lists the valid ones.
    public func decode<E: RawRepresentable & CaseIterable>(_ key: Key, default defaultValue: E) throws -> E where E.RawValue == String {
        guard let name = try decodeIfPresent(String.self, forKey: key) else { return defaultValue }
        guard let value = E(rawValue: name) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "unknown value '\(name)'; valid: \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// Hidden layer sizes, each 1...65536; the error names the key and the bad size.
    public func decodeLayerSizes(_ key: Key, default defaultValue: [Int]) throws -> [Int] {
        let sizes = try decode(key, default: defaultValue)
        if let bad = sizes.first(where: { $0 < 1 || $0 > 65536 }) {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "layer size \(bad) is outside 1...65536")
        }
        return sizes
    }

    /// Decodes an optional `key` and checks, when present, that it lies in `range`.
    public func decodeIfPresent<T: Decodable & Comparable>(_ key: Key, in range: ClosedRange<T>) throws -> T? {
        guard let value = try decodeIfPresent(T.self, forKey: key) else { return nil }
        guard range.contains(value) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self,
                debugDescription: "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}

/// The snake_case spelling of a camelCase Swift name: `hiddenSize` -> `hidden_size`.
/// YAML keys and stored configurations use it; this is the one rule.
public func snakeCase(_ name: String) -> String {
    var out = ""
    for ch in name {
        if ch.isUppercase {
            if !out.isEmpty { out.append("_") }
            out += ch.lowercased()
        } else {
            out.append(ch)
        }
    }
    return out
}

/// How canonical JSON spells keys.
public enum CanonicalKeys: Sendable {
    /// snake_case, as YAML configurations are written: the input of configuration hashes.
    case snakeCase
    /// As the Swift types declare them (stored records whose keys are data, such as pipeline
    /// names, and the language-model call keys).
    case asDeclared
}

/// Canonical JSON of a value: sorted keys, unescaped slashes, one line. Every hash of a
/// configuration, a cache key or a stored record goes through this one encoder, so equal
/// values always give equal bytes.
public func canonicalJSON<T: Encodable>(_ value: T, keys: CanonicalKeys = .snakeCase, pretty: Bool = false) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
    if keys == .snakeCase { encoder.keyEncodingStrategy = .custom { path in SnakeKey(snakeCase(path.last!.stringValue)) } }
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Decodes a stored record that `canonicalJSON(_:keys: .asDeclared)` wrote; a record that does
/// not decode (written by another version, or damaged) is an error naming its type.
public func decodeJSON<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: Data(bytes))
    } catch {
        throw RecError(.data, "a stored \(T.self) does not decode (\(error)); delete it from the stage cache to rebuild it")
    }
}

/// The key of a stage-cache entry: SHA-256 of its parts joined by `|` (kind first, then the
/// configuration, upstream keys, data fingerprint and seeds that determine the output).
public func stageKey(_ parts: [String]) -> String {
    SHA256.hex(parts.joined(separator: "|"))
}

private struct SnakeKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The candidate closest to `word` by edit distance, if any is reasonably close.
public func nearest(_ word: String, in candidates: [String]) -> String? {
    var best: (name: String, distance: Int)?
    for candidate in candidates.sorted() {
        let distance = editDistance(word.lowercased(), candidate.lowercased())
        if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
    }
    guard let best, best.distance <= max(2, word.count / 2) else { return nil }
    return best.name
}

/// Levenshtein distance.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution: Int = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            let deletion: Int = previous[j] + 1
            let insertion: Int = current[j - 1] + 1
            current[j] = Swift.min(substitution, deletion, insertion)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// A decoder over an empty mapping: decoding a configuration from it yields every default.
public struct EmptyDecoder: Decoder {
    public var codingPath: [any CodingKey] = []
    public var userInfo: [CodingUserInfoKey: Any] { [:] }

    public init() {}

    public func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(EmptyKeyed<Key>())
    }

    public func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: [], debugDescription: "empty configuration"))
    }

    public func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: [], debugDescription: "empty configuration"))
    }

    private struct EmptyKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [] }
        func contains(_ key: Key) -> Bool { false }
        func decodeNil(forKey key: Key) throws -> Bool { true }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            throw DecodingError.keyNotFound(key, .init(codingPath: [], debugDescription: "required key"))
        }
        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            KeyedDecodingContainer(EmptyKeyed<N>())
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw DecodingError.keyNotFound(key, .init(codingPath: [], debugDescription: "required key"))
        }
        func superDecoder() throws -> any Decoder { EmptyDecoder() }
        func superDecoder(forKey key: Key) throws -> any Decoder { EmptyDecoder() }
    }
}

/// A JSON value (from `JSONSerialization`) in YAML flow style, as configurations are shown to
/// people: `{ backend: local, model: X }`, `[q, v]`, `250`.
public func flowYAML(_ value: Any) -> String {
    if let object = value as? [String: Any] {
        return "{ " + object.keys.sorted().map { "\($0): \(flowYAML(object[$0]!))" }.joined(separator: ", ") + " }"
    }
    if let array = value as? [Any] { return "[" + array.map(flowYAML).joined(separator: ", ") + "]" }
    // JSONSerialization hands booleans back as NSNumber, which prints them as 1 and 0.
    if let number = value as? NSNumber, String(describing: type(of: number)).contains("Boolean") { return number.boolValue ? "true" : "false" }
    return "\(value)"
}
