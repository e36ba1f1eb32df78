import CYAML
import Foundation
import RecCore

/// Parses YAML text with libyaml's event API into a `YAMLNode` tree.
///
/// Anchors and aliases are resolved; `<<` merge keys are applied (explicit keys win); duplicate
/// keys are errors. Every error names `file:line:column`.
public enum YAMLParser {
    public static func parse(file path: String) throws -> YAMLNode {
        // A spec is a few kilobytes; 16 MiB leaves room for generated grids.
        try parse(InputFile.read(path, what: "spec file", kind: .spec, limit: 16 << 20), file: path)
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

/// Limits that keep a hostile spec from exhausting the stack or the memory: how deep
/// collections may nest, and how many nodes the tree may hold once aliases are expanded
/// (a "billion laughs" file is small but expands exponentially).
public enum YAMLLimits {
    public static let maxDepth = 200
    public static let maxNodes = 1_000_000
}

/// Turns the event stream into nodes with a stack of open collections. Each collection is
/// extended in place, so building a list of n items takes O(n).
private struct Builder {
    struct Frame {
        var isMapping: Bool
        var items: [YAMLNode] = []
        var entries: [YAMLEntry] = []
        var pendingKey: YAMLNode?
        var merges: [YAMLNode] = []
        var keys: [String: SourceLocation] = [:]
        var anchor: String?
        var at: SourceLocation
        /// Nodes in this collection so far, itself included, with aliases expanded.
        var size = 1
    }

    let file: String
    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var root: YAMLNode?
    var documents = 0
    var nodes = 0

    init(file: String) { self.file = file }

    func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    mutating func open(_ frame: Frame) throws {
        guard stack.count < YAMLLimits.maxDepth else {
            throw RecError(.spec, "collections nest deeper than \(YAMLLimits.maxDepth) levels", at: frame.at)
        }
        stack.append(frame)
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
            if let anchor = scalar.anchor { anchors[String(cString: anchor)] = (node, 1) }
            try add(node, size: 1)
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let target = anchors[name] else { throw RecError(.spec, "unknown alias '*\(Excerpt.of(name))'", at: at) }
            var copy = target.node
            copy.location = at
            try add(copy, size: target.size)
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            try open(Frame(isMapping: false, anchor: anchor, at: at))
        case YAML_MAPPING_START_EVENT:
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            try open(Frame(isMapping: true, anchor: anchor, at: at))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard var frame = stack.popLast() else { return }
            let node: YAMLNode
            if frame.isMapping {
                // `<<` merges: keys from merged mappings fill in only what is not set explicitly;
                // earlier merge sources win over later ones, as the YAML merge-key spec says.
                for source in frame.merges {
                    for entry in source.entries ?? [] where frame.keys.updateValue(entry.keyLocation, forKey: entry.key) == nil {
                        frame.entries.append(entry)
                    }
                }
                node = YAMLNode(.mapping(frame.entries), at: frame.at)
            } else {
                node = YAMLNode(.sequence(frame.items), at: frame.at)
            }
            if let anchor = frame.anchor { anchors[anchor] = (node, frame.size) }
            try add(node, size: frame.size, counted: true)
        default:
            break
        }
    }

    /// Adds `node` (of `size` nodes once expanded) to the innermost open collection. A closed
    /// collection's children were counted as they were added, so it adds one (`counted`).
    mutating func add(_ node: YAMLNode, size: Int, counted: Bool = false) throws {
        nodes += counted ? 1 : size
        guard nodes <= YAMLLimits.maxNodes else {
            throw RecError(.spec, "the document expands to more than \(YAMLLimits.maxNodes) nodes (aliases included); it is too large for a spec", at: node.location)
        }
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        stack[top].size += size
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        guard let key = stack[top].pendingKey else {
            stack[top].pendingKey = node
            return
        }
        stack[top].pendingKey = nil
        guard let keyText = key.scalar else {
            throw RecError(.spec, "mapping keys must be plain text, found \(key.shapeName)", at: key.location)
        }
        if keyText == "<<", case .plain = key.plainness {
            switch node.value {
            case .mapping: stack[top].merges.append(node)
            case .sequence(let sources) where sources.allSatisfy({ $0.entries != nil }):
                stack[top].merges.append(contentsOf: sources)
            default:
                throw RecError(.spec, "a '<<' merge key needs a mapping or a list of mappings, found \(node.shapeName)", at: node.location)
            }
            return
        }
        if let previous = stack[top].keys.updateValue(key.location, forKey: keyText) {
            throw RecError(
                .spec, "duplicate key '\(Excerpt.of(keyText))' (first defined at line \(previous.line))",
                at: key.location)
        }
        stack[top].entries.append(YAMLEntry(key: keyText, keyLocation: key.location, value: node))
    }
}

private enum Plainness { case plain, quoted }

extension YAMLNode {
    fileprivate var plainness: Plainness {
        if case .scalar(_, plain: true) = value { return .plain }
        return .quoted
    }
}
