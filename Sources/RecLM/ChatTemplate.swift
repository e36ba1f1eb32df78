import RecCore

/// One chat message.
public struct ChatMessage: Codable, Sendable, Hashable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// The chat template stored in a GGUF (`tokenizer.chat_template`), recognised by its family's
/// markers as llama.cpp recognises it, and rendered as llama.cpp's built-in renderer of that
/// family renders it:
///
/// - ChatML (`<|im_start|>`; SmolLM2, Qwen): `<|im_start|>ROLE\nCONTENT<|im_end|>\n` per
///   message, then `<|im_start|>assistant\n`. A template that adds a default system message
///   when the first is not a system message (SmolLM2's) has that message read from the
///   template text itself.
/// - Llama 3 (`<|start_header_id|>` and `<|end_header_id|>`):
///   `<|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>` with the content trimmed,
///   then the assistant's header. The tokenizer adds BOS.
/// - Gemma (`<start_of_turn>`): `<start_of_turn>ROLE\nCONTENT<end_of_turn>\n` with the content
///   trimmed and `assistant` spelt `model`; system messages have no turn of their own but
///   open the next user turn, followed by a blank line. Then `<start_of_turn>model\n`.
///
/// Templates of other families are refused rather than guessed. What a template does beyond
/// plain chats (tools, dates, default system messages other than SmolLM2's form) is not
/// rendered.
public struct ChatTemplate: Sendable {
    /// The families, by the names `lm.chat_template` takes.
    public enum Family: String, Sendable, CaseIterable { case chatML = "chatml", llama3, gemma }
    public let family: Family
    public let defaultSystem: String?

    /// A family's plain form, for a model whose file has no template (a base model) or whose
    /// template should be overridden.
    public init(family: Family) {
        self.family = family
        defaultSystem = nil
    }

    public init(_ template: String, file: String) throws {
        if template.contains("<|im_start|>") {
            family = .chatML
        } else if template.contains("<|start_header_id|>") && template.contains("<|end_header_id|>") {
            family = .llama3
        } else if template.contains("<start_of_turn>") {
            family = .gemma
        } else {
            throw RecError(.data, "\(file): tokenizer.chat_template is not a ChatML, Llama 3 or Gemma template; RecLab applies those families only")
        }
        // {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}{% endif %}
        if family == .chatML, let condition = template.range(of: "messages[0]['role'] != 'system' %}{{ '"),
            let end = template.range(of: "' }}{% endif %}", range: condition.upperBound..<template.endIndex)
        {
            defaultSystem = String(template[condition.upperBound..<end.lowerBound]).replacingOccurrences(of: "\\n", with: "\n")
        } else {
            defaultSystem = nil
        }
    }

    /// The prompt text for `messages`; `addGenerationPrompt` opens the assistant's turn.
    public func apply(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var text = ""
        switch family {
        case .chatML:
            if let defaultSystem, messages.first?.role != "system" { text += defaultSystem }
            for message in messages { text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n" }
            if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        case .llama3:
            for message in messages { text += "<|start_header_id|>\(message.role)<|end_header_id|>\n\n\(Self.trimmed(message.content))<|eot_id|>" }
            if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .gemma:
            var system = ""
            for message in messages {
                guard message.role != "system" else {
                    system += Self.trimmed(message.content)
                    continue
                }
                let role = message.role == "assistant" ? "model" : message.role
                text += "<start_of_turn>\(role)\n"
                if !system.isEmpty && role != "model" {
                    text += system + "\n\n"
                    system = ""
                }
                text += Self.trimmed(message.content) + "<end_of_turn>\n"
            }
            if addGenerationPrompt { text += "<start_of_turn>model\n" }
        }
        return text
    }

    /// The text without leading and trailing ASCII white space (C's `isspace`, as llama.cpp
    /// trims).
    static func trimmed(_ text: String) -> String {
        let space: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]
        let bytes = Array(text.utf8)
        guard let first = bytes.firstIndex(where: { !space.contains($0) }), let last = bytes.lastIndex(where: { !space.contains($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
