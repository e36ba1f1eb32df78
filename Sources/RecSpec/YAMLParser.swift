import CYAML
import Foundation
import RecCore

/// Parses YAML text with libyaml's event API into a `YAMLNode` tree.
///
/// Anchors and aliases are resolved; `<<` merge keys are applied (explicit keys win); duplicate
/// keys are errors. Every error names `file:line:column`.
public enum YAMLParser {
    public static func parse(file path: String) throws -> YAMLNode {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecError(.spec, "cannot read spec file '\(path)'")
        }
        return try parse(Array(data), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        try parse(Array(text.utf8), file: file)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> YAMLNode {
        var builder = Builder(file: file)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw RecError(.spec, "libyaml could not start") }
        defer { yaml_parser_delete(&parser) }
        // The input buffer must stay alive for the whole parse: it is only read inside this closure.
        return try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    throw syntaxError(parser, file: file)
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(&event)
            }
            guard let root = builder.root else {
                throw RecError(.spec, "the file is empty; expected a mapping", at: SourceLocation(file: file, line: 1, column: 1))
            }
            return root
        }
    }

    private static func syntaxError(_ parser: yaml_parser_t, file: String) -> RecError {
        let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
        var message = "invalid YAML: \(problem)"
        if let context = parser.context { message += " (\(String(cString: context)))" }
        let mark = parser.problem_mark
        return RecError(.spec, message, at: SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1))
    }
}

/// Turns the event stream into nodes with a stack of open collections.
private struct Builder {
    enum Open {
        case sequence([YAMLNode], anchor: String?, at: SourceLocation)
        case mapping([YAMLEntry], pendingKey: YAMLNode?, merges: [YAMLNode], anchor: String?, at: SourceLocation)
    }

    let file: String
    var stack: [Open] = []
    var anchors: [String: YAMLNode] = [:]
    var root: YAMLNode?
    var documents = 0

    init(file: String) { self.file = file }

    func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    mutating func handle(_ event: inout yaml_event_t) throws {
        let at = location(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 { throw RecError(.spec, "a spec holds one YAML document; found a second", at: at) }
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE
            let node = YAMLNode(.scalar(text, plain: plain), at: at)
            if let anchor = scalar.anchor { anchors[String(cString: anchor)] = node }
            try add(node)
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let target = anchors[name] else { throw RecError(.spec, "unknown alias '*\(name)'", at: at) }
            var copy = target
            copy.location = at
            try add(copy, alias: true)
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            stack.append(.sequence([], anchor: anchor, at: at))
        case YAML_MAPPING_START_EVENT:
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            stack.append(.mapping([], pendingKey: nil, merges: [], anchor: anchor, at: at))
        case YAML_SEQUENCE_END_EVENT:
            guard case .sequence(let items, let anchor, let start)? = stack.popLast() else { return }
            let node = YAMLNode(.sequence(items), at: start)
            if let anchor { anchors[anchor] = node }
            try add(node)
        case YAML_MAPPING_END_EVENT:
            guard case .mapping(var entries, _, let merges, let anchor, let start)? = stack.popLast() else { return }
            // `<<` merges: keys from merged mappings fill in only what is not set explicitly;
            // earlier merge sources win over later ones, as the YAML merge-key spec says.
            for source in merges {
                for entry in source.entries ?? [] where !entries.contains(where: { $0.key == entry.key }) {
                    entries.append(entry)
                }
            }
            let node = YAMLNode(.mapping(entries), at: start)
            if let anchor { anchors[anchor] = node }
            try add(node)
        default:
            break
        }
    }

    mutating func add(_ node: YAMLNode, alias: Bool = false) throws {
        guard let top = stack.popLast() else {
            root = node
            return
        }
        switch top {
        case .sequence(var items, let anchor, let at):
            items.append(node)
            stack.append(.sequence(items, anchor: anchor, at: at))
        case .mapping(var entries, let pendingKey, var merges, let anchor, let at):
            if let key = pendingKey {
                guard let keyText = key.scalar else {
                    throw RecError(.spec, "mapping keys must be plain text, found \(key.shapeName)", at: key.location)
                }
                if keyText == "<<", case .plain = key.plainness {
                    switch node.value {
                    case .mapping: merges.append(node)
                    case .sequence(let sources) where sources.allSatisfy({ $0.entries != nil }):
                        merges.append(contentsOf: sources)
                    default:
                        throw RecError(.spec, "a '<<' merge key needs a mapping or a list of mappings, found \(node.shapeName)", at: node.location)
                    }
                } else {
                    if let previous = entries.first(where: { $0.key == keyText }) {
                        throw RecError(
                            .spec, "duplicate key '\(keyText)' (first defined at line \(previous.keyLocation.line))",
                            at: key.location)
                    }
                    entries.append(YAMLEntry(key: keyText, keyLocation: key.location, value: node))
                }
                stack.append(.mapping(entries, pendingKey: nil, merges: merges, anchor: anchor, at: at))
            } else {
                stack.append(.mapping(entries, pendingKey: node, merges: merges, anchor: anchor, at: at))
            }
        }
    }
}

private enum Plainness { case plain, quoted }

extension YAMLNode {
    fileprivate var plainness: Plainness {
        if case .scalar(_, plain: true) = value { return .plain }
        return .quoted
    }
}
