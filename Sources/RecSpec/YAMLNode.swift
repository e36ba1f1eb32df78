import RecCore

/// A YAML node with the file, line and column it came from.
///
/// libyaml resolves neither scalar types nor merge keys, so scalars stay text (with whether they
/// were plain or quoted) until a decoder knows the target type, and `<<` is resolved in Swift.
public struct YAMLNode: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        case mapping([YAMLEntry])
    }

    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }

    /// Whether this is a plain `null`, `~` or empty scalar.
    public var isNull: Bool {
        if case .scalar(let text, plain: true) = value { return ["", "~", "null", "Null", "NULL"].contains(text) }
        return false
    }

    public var scalar: String? {
        if case .scalar(let text, _) = value { return text }
        return nil
    }

    public var entries: [YAMLEntry]? {
        if case .mapping(let entries) = value { return entries }
        return nil
    }

    public var items: [YAMLNode]? {
        if case .sequence(let items) = value { return items }
        return nil
    }

    /// The value under `key` in a mapping.
    public subscript(key: String) -> YAMLNode? {
        entries?.first { $0.key == key }?.value
    }

    /// A short name of the node's shape for error messages.
    public var shapeName: String {
        switch value {
        case .scalar(let text, _): return "\"\(Excerpt.of(text))\""
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// One `key: value` pair of a mapping.
public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: YAMLNode

    public init(key: String, keyLocation: SourceLocation, value: YAMLNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}

extension YAMLNode {
    /// The node at a dotted path such as `pipelines.ease.retriever` (a number steps into a
    /// list: `pipelines.knn.derive.0`), if every step exists.
    public func node(at path: [String]) -> YAMLNode? {
        var node = self
        for step in path {
            if let items = node.items {
                guard let index = Int(step), items.indices.contains(index) else { return nil }
                node = items[index]
                continue
            }
            guard let next = node[step] else { return nil }
            node = next
        }
        return node
    }

    /// The value at `path` (mapping keys, or list indexes), nil where a step is missing.
    public func value(at path: ArraySlice<String>) -> YAMLNode? {
        guard let first = path.first else { return self }
        if case .sequence(let items) = value {
            guard let index = Int(first), items.indices.contains(index) else { return nil }
            return items[index].value(at: path.dropFirst())
        }
        return self[first]?.value(at: path.dropFirst())
    }

    /// Replaces (or adds) the value at `path`. Every parent must already be a mapping, or a
    /// list that the step indexes.
    /// - Returns: false when a parent is missing, or is neither.
    public mutating func set(_ newValue: YAMLNode, at path: ArraySlice<String>) -> Bool {
        guard let first = path.first else { return false }
        if case .sequence(var items) = value {
            guard let index = Int(first), items.indices.contains(index) else { return false }
            if path.count == 1 {
                items[index] = newValue
            } else if !items[index].set(newValue, at: path.dropFirst()) {
                return false
            }
            value = .sequence(items)
            return true
        }
        guard case .mapping(var entries) = value else { return false }
        if path.count == 1 {
            if let index = entries.firstIndex(where: { $0.key == first }) {
                entries[index].value = newValue
            } else {
                entries.append(YAMLEntry(key: first, keyLocation: newValue.location, value: newValue))
            }
            value = .mapping(entries)
            return true
        }
        guard let index = entries.firstIndex(where: { $0.key == first }) else { return false }
        guard entries[index].value.set(newValue, at: path.dropFirst()) else { return false }
        value = .mapping(entries)
        return true
    }

    /// Deep merge for `extends:`: mappings merge key by key, `self` winning, and a key `self`
    /// sets to null is removed (a pipeline the extending spec leaves out); anything else is
    /// replaced by `self`.
    public func merged(over base: YAMLNode) -> YAMLNode {
        guard case .mapping(let mine) = value, case .mapping(var theirs) = base.value else { return self }
        for entry in mine {
            if entry.value.isNull {
                theirs.removeAll { $0.key == entry.key }
            } else if let index = theirs.firstIndex(where: { $0.key == entry.key }) {
                theirs[index] = YAMLEntry(
                    key: entry.key, keyLocation: entry.keyLocation, value: entry.value.merged(over: theirs[index].value))
            } else {
                theirs.append(entry)
            }
        }
        return YAMLNode(.mapping(theirs), at: location)
    }
}
