import Foundation
import RecCore

/// Decodes typed configurations from a `YAMLNode` tree, strictly.
///
/// - Keys are snake_case in YAML and camelCase in Swift (`snakeCase` is the one rule).
/// - Scalars are converted only once the target type is known, so `1e-3` is a `Double` and
///   `"64"` can still be a `String`.
/// - Every key of every mapping must be read by the target type: a key nobody asked for is an
///   error naming the nearest valid key.
/// - Errors carry the node's `file:line:column` and the dotted key path.
public struct NodeDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from node: YAMLNode, path: [String] = [], ignoring: Set<String> = []) throws -> T {
        let log = AccessLog()
        let decoder = NodeDecoding(node: node, path: path, log: log)
        let value: T
        do {
            value = try T(from: decoder)
        } catch {
            // A misspelt key often causes the failure (a required key then seems missing):
            // report the unknown key first, from the mappings whose valid keys are all known.
            try log.checkUnknownKeys(ignoring: ignoring, rootPath: path, completeOnly: true)
            if let decodingError = error as? DecodingError { throw Self.translate(decodingError, root: node, prefix: path) }
            throw error
        }
        try log.checkUnknownKeys(ignoring: ignoring, rootPath: path)
        return value
    }

    /// Maps a `DecodingError` thrown by a configuration's own checks to a located `RecError`.
    static func translate(_ error: DecodingError, root: YAMLNode, prefix: [String]) -> RecError {
        let (context, message): (DecodingError.Context, String) = {
            switch error {
            case .dataCorrupted(let c): return (c, c.debugDescription)
            case .keyNotFound(let key, let c):
                return (DecodingError.Context(codingPath: c.codingPath, debugDescription: ""), "required key '\(snakeCase(key.stringValue))' is missing")
            case .typeMismatch(let t, let c): return (c, "expected \(typeName(t)): \(c.debugDescription)")
            case .valueNotFound(let t, let c): return (c, "expected \(typeName(t)), found null")
            @unknown default: return (DecodingError.Context(codingPath: [], debugDescription: ""), "\(error)")
            }
        }()
        var keys = context.codingPath.map { $0.intValue.map(String.init) ?? snakeCase($0.stringValue) }
        // Coding paths are absolute; the root node sits at `prefix`.
        if keys.starts(with: prefix) { keys.removeFirst(prefix.count) }
        var node = root
        for key in keys {
            if let index = Int(key), let items = node.items, index < items.count { node = items[index] } else if let next = node[key] { node = next } else { break }
        }
        return RecError(.spec, message, at: node.location, key: (prefix + keys).joined(separator: "."))
    }
}

func typeName(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type, is UInt.Type: return "an integer"
    case is Double.Type, is Float.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is String.Type: return "text"
    default: return "\(type)"
    }
}

/// Which keys of which mappings were read, so unread (unknown) keys can be reported.
final class AccessLog {
    struct Record {
        var node: YAMLNode
        var path: [String]
        var read: Set<String> = []
        var exempt = false
        /// Every valid key was registered up front (the keys are `CaseIterable`).
        var complete = false
    }

    var records: [String: Record] = [:]

    func touch(_ node: YAMLNode, path: [String], key: String? = nil, exempt: Bool = false, allKeys: [String]? = nil) {
        let id = path.joined(separator: ".") + "@\(node.location)"
        var record = records[id] ?? Record(node: node, path: path)
        if let key { record.read.insert(key) }
        if exempt { record.exempt = true }
        if let allKeys {
            record.read.formUnion(allKeys)
            record.complete = true
        }
        records[id] = record
    }

    func checkUnknownKeys(ignoring: Set<String>, rootPath: [String], completeOnly: Bool = false) throws {
        let ordered = records.values.sorted {
            ($0.node.location.line, $0.node.location.column) < ($1.node.location.line, $1.node.location.column)
        }
        for record in ordered where !record.exempt && (record.complete || !completeOnly) {
            for entry in record.node.entries ?? [] where !record.read.contains(entry.key) {
                if record.path == rootPath && ignoring.contains(entry.key) { continue }
                var message = "unknown key '\(entry.key)'"
                let valid = record.read.sorted()
                if let near = nearest(entry.key, in: valid) {
                    message += "; did you mean '\(near)'?"
                } else if !valid.isEmpty {
                    message += "; valid keys: \(valid.joined(separator: ", "))"
                }
                throw RecError(.spec, message, at: entry.keyLocation, key: (record.path + [entry.key]).joined(separator: "."))
            }
        }
    }
}

/// The `Decoder` handed to `init(from:)`. Configurations that need the raw node (component slots)
/// can cast to this type.
public struct NodeDecoding: Decoder {
    public let node: YAMLNode
    let path: [String]
    let log: AccessLog

    public var codingPath: [any CodingKey] { path.map { AnyKey($0) } }
    public var userInfo: [CodingUserInfoKey: Any] { [:] }
    public var keyPath: String { path.joined(separator: ".") }

    init(node: YAMLNode, path: [String], log: AccessLog) {
        self.node = node
        self.path = path
        self.log = log
    }

    /// Marks this mapping as taken whole (a component slot decoded later by its plugin).
    public func exemptFromUnknownKeys() { log.touch(node, path: path, exempt: true) }

    func error(_ message: String) -> RecError {
        RecError(.spec, message, at: node.location, key: keyPath)
    }

    public func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let entries = node.entries else {
            if node.isNull { return KeyedDecodingContainer(Keyed<Key>(decoder: self, entries: [])) }
            throw error("expected a mapping, found \(node.shapeName)")
        }
        // Keys that are `CaseIterable` list every valid key up front; others are learnt as read.
        let allKeys = (Key.self as? any CaseIterable.Type).map { type in
            (type.allCases as any Collection).map { snakeCase(($0 as! Key).stringValue) }
        }
        log.touch(node, path: path, allKeys: allKeys)
        return KeyedDecodingContainer(Keyed<Key>(decoder: self, entries: entries))
    }

    public func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let items = node.items else { throw error("expected a list, found \(node.shapeName)") }
        return Unkeyed(decoder: self, items: items)
    }

    public func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    // MARK: - Scalars

    func scalar<T>(_ type: T.Type) throws -> T {
        guard case .scalar(let text, let plain) = node.value else {
            throw error("expected \(typeName(type)), found \(node.shapeName)")
        }
        if type == String.self { return text as! T }
        guard plain || type == String.self else { throw error("expected \(typeName(type)), found quoted text \"\(Excerpt.of(text))\"") }
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        let value: Any?
        switch type {
        case is Bool.Type:
            value = ["true", "True", "TRUE"].contains(text) ? true : ["false", "False", "FALSE"].contains(text) ? false : nil
        case is Int.Type: value = Int(cleaned)
        case is Int32.Type: value = Int32(cleaned)
        case is Int64.Type: value = Int64(cleaned)
        case is UInt64.Type: value = UInt64(cleaned)
        case is UInt.Type: value = UInt(cleaned)
        case is Double.Type: value = Self.double(cleaned)
        case is Float.Type: value = Self.double(cleaned).map { Float($0) }
        default: value = nil
        }
        guard let result = value as? T else { throw error("expected \(typeName(type)), found \"\(Excerpt.of(text))\"") }
        // Every number in a spec is finite: NaN and infinity have no meaning as a setting, and
        // they would also break the canonical JSON that identifies a cell.
        if let number = result as? Double, !number.isFinite { throw error("expected a finite number, found \"\(Excerpt.of(text))\"") }
        if let number = result as? Float, !number.isFinite { throw error("expected a finite number, found \"\(Excerpt.of(text))\"") }
        return result
    }

    static func double(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", "+.inf": return .infinity
        case "-.inf", "-.Inf": return -.infinity
        case ".nan", ".NaN": return .nan
        default:
            guard let first = text.first, first.isNumber || "+-.".contains(first) else { return nil }
            return Double(text)
        }
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is String.Type, is Bool.Type, is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type, is UInt.Type, is Double.Type, is Float.Type:
            return try scalar(type)
        default:
            return try T(from: self)
        }
    }

    func child(_ node: YAMLNode, _ key: String) -> NodeDecoding {
        NodeDecoding(node: node, path: path + [key], log: log)
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ string: String) { stringValue = string; intValue = Int(string) }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

private struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: NodeDecoding
    let entries: [YAMLEntry]

    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        entries.compactMap { entry in
            if let key = Key(stringValue: entry.key) { return key }
            return Key(stringValue: camelCase(entry.key))
        }
    }

    private func yamlKey(_ key: Key) -> String {
        let snake = snakeCase(key.stringValue)
        if entries.contains(where: { $0.key == snake }) { return snake }
        return key.stringValue
    }

    private func entry(_ key: Key) -> YAMLEntry? {
        let name = yamlKey(key)
        decoder.log.touch(decoder.node, path: decoder.path, key: name)
        return entries.first { $0.key == name }
    }

    func contains(_ key: Key) -> Bool { entry(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { entry(key)?.value.isNull ?? true }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let found = entry(key) else {
            throw RecError(.spec, "required key '\(yamlKey(key))' is missing", at: decoder.node.location, key: decoder.keyPath)
        }
        return try decoder.child(found.value, found.key).decodeValue(type)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let found = entry(key), !found.value.isNull else { return nil }
        return try decoder.child(found.value, found.key).decodeValue(type)
    }

    func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
        guard let found = entry(key) else { return KeyedDecodingContainer(Keyed<N>(decoder: decoder, entries: [])) }
        return try decoder.child(found.value, found.key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        guard let found = entry(key) else {
            throw RecError(.spec, "required key '\(yamlKey(key))' is missing", at: decoder.node.location, key: decoder.keyPath)
        }
        return try decoder.child(found.value, found.key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        guard let found = entry(key) else { return EmptyDecoder() }
        return decoder.child(found.value, found.key)
    }
}

private struct Unkeyed: UnkeyedDecodingContainer {
    let decoder: NodeDecoding
    let items: [YAMLNode]
    var currentIndex = 0

    init(decoder: NodeDecoding, items: [YAMLNode]) {
        self.decoder = decoder
        self.items = items
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> NodeDecoding {
        guard !isAtEnd else { throw decoder.error("the list has too few items") }
        defer { currentIndex += 1 }
        return decoder.child(items[currentIndex], String(currentIndex))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }

    mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }

    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct Single: SingleValueDecodingContainer {
    let decoder: NodeDecoding
    var codingPath: [any CodingKey] { decoder.codingPath }
    func decodeNil() -> Bool { decoder.node.isNull }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
}

/// The camelCase spelling of a snake_case key: `hidden_size` -> `hiddenSize`.
func camelCase(_ key: String) -> String {
    let parts = key.split(separator: "_", omittingEmptySubsequences: false)
    guard let first = parts.first else { return key }
    return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
}
