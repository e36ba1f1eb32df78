import RecCore

/// A prompt with `{field}` placeholders, parsed once.
public struct PromptTemplate: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case field(String)
    }

    public let parts: [Part]

    /// Throws on an unclosed `{` or an empty `{}`; `{{` and `}}` stand for literal braces.
    public init(_ text: String) throws {
        var parts: [Part] = [], literal = "", index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "{" || character == "}", next < text.endIndex, text[next] == character {
                literal.append(character)
                index = text.index(after: next)
                continue
            }
            if character == "{" {
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw RecError(.spec, "the prompt has a '{' that no '}' closes (write '{{' for a literal brace)")
                }
                let name = text[next..<close].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty else { throw RecError(.spec, "the prompt has an empty placeholder '{}'; name an item field, e.g. {title}") }
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(.field(name))
                index = text.index(after: close)
                continue
            }
            literal.append(character)
            index = next
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// The prompt with each placeholder's value from `value` ("unknown" where it gives none),
    /// and how many placeholders had none.
    public func render(_ value: (String) -> String?) -> (String, missing: Int) {
        var text = "", missing = 0
        for part in parts {
            switch part {
            case .literal(let literal): text += literal
            case .field(let name):
                if let found = value(name) {
                    text += found
                } else {
                    text += "unknown"
                    missing += 1
                }
            }
        }
        return (text, missing)
    }

    /// The prompt for `item`, and how many placeholders named a field it lacks.
    public func render(_ item: ItemText) -> (String, missing: Int) { render { item.text($0) } }
}
