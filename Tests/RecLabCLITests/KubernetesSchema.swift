import Foundation
import RecSpec

/// The part of JSON Schema the Kubernetes schemas in Fixtures/k8s/schema.json use (type,
/// properties, additionalProperties, required, items, enum, oneOf, local $ref), checked against
/// a manifest read by RecLab's YAML parser. Plain scalars are typed as YAML 1.2's core schema
/// types them; quoted ones are strings.
struct KubernetesSchema {
    let kinds: [String: Any]
    let definitions: [String: Any]

    init(file: String) throws {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
        kinds = root["kinds"] as! [String: Any]
        definitions = root["definitions"] as! [String: Any]
    }

    /// Every violation in `document` (one YAML document), as `path: problem`.
    func violations(of document: YAMLNode) -> [String] {
        let value = Self.value(document)
        guard let kind = (value as? [String: Any])?["kind"] as? String, let schema = kinds[kind] else { return ["document: no schema for its kind"] }
        var out: [String] = []
        check(value, against: schema, at: kind, into: &out)
        return out
    }

    static func value(_ node: YAMLNode) -> Any {
        switch node.value {
        case .mapping(let entries): return Dictionary(entries.map { ($0.key, value($0.value)) }, uniquingKeysWith: { first, _ in first })
        case .sequence(let items): return items.map(value)
        case .scalar(let text, let plain):
            guard plain else { return text }
            if let number = Int(text) { return number }
            if text == "true" || text == "false" { return text == "true" }
            if node.isNull { return NSNull() }
            return text
        }
    }

    private func resolve(_ schema: Any) -> [String: Any] {
        var schema = schema as! [String: Any]
        while let reference = schema["$ref"] as? String {
            schema = definitions[String(reference.dropFirst("#/definitions/".count))] as! [String: Any]
        }
        return schema
    }

    private static func typeName(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case is Bool: return "boolean"
        case is Int: return "integer"
        case is String: return "string"
        case is [Any]: return "array"
        default: return "object"
        }
    }

    private func check(_ value: Any, against raw: Any, at path: String, into out: inout [String]) {
        let schema = resolve(raw)
        if let options = schema["oneOf"] as? [Any] {
            let passing = options.filter { option in
                var sink: [String] = []
                check(value, against: option, at: path, into: &sink)
                return sink.isEmpty
            }
            if passing.count != 1 { out.append("\(path): matches \(passing.count) of oneOf's \(options.count) schemas") }
        }
        let types = (schema["type"] as? [String]) ?? (schema["type"] as? String).map { [$0] } ?? []
        let actual = Self.typeName(value)
        if !types.isEmpty && !types.contains(actual) && !(actual == "integer" && types.contains("number")) {
            out.append("\(path): \(actual), expected \(types.joined(separator: " or "))")
            return
        }
        if let allowed = schema["enum"] as? [String], let text = value as? String, !allowed.contains(text) {
            out.append("\(path): '\(text)' is not one of \(allowed)")
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for name in schema["required"] as? [String] ?? [] where object[name] == nil { out.append("\(path): missing required '\(name)'") }
            for (name, item) in object.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    check(item, against: property, at: "\(path).\(name)", into: &out)
                } else if let additional = schema["additionalProperties"] {
                    if additional as? Bool == false {
                        out.append("\(path): unknown field '\(name)'")
                    } else if !(additional is Bool) {
                        check(item, against: additional, at: "\(path).\(name)", into: &out)
                    }
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] {
            for (index, item) in array.enumerated() { check(item, against: items, at: "\(path)[\(index)]", into: &out) }
        }
    }
}
