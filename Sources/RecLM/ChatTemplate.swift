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

/// The chat template stored in a GGUF (`tokenizer.chat_template`), for the ChatML family:
/// `<|im_start|>ROLE\nCONTENT<|im_end|>\n` per message, then `<|im_start|>assistant\n`. A
/// template that adds a default system message when the first is not a system message
/// (SmolLM2's) has that message read from the template text itself. Templates of other
/// families are refused rather than guessed.
public struct ChatTemplate: Sendable {
    public let defaultSystem: String?

    public init(_ template: String, file: String) throws {
        guard
            template.contains("'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'")
                || template.contains("'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'")
        else {
            throw RecError(.data, "\(file): tokenizer.chat_template is not a ChatML template; RecLab applies ChatML templates only")
        }
        // {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}{% endif %}
        if let condition = template.range(of: "messages[0]['role'] != 'system' %}{{ '"),
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
        if let defaultSystem, messages.first?.role != "system" { text += defaultSystem }
        for message in messages { text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n" }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }
}
