import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecLM

/// Chat templates chosen in the spec (`lm.chat_template`): base models, which carry none, get
/// chats rendered in the family asked for, and the cache tells the override apart.
@Suite(.serialized)
struct ChatTemplateTests {
    let folder = Fixtures.temporaryDirectory("chat-templates")

    func decode(_ json: String) throws -> LanguageModelSpec { try JSONDecoder().decode(LanguageModelSpec.self, from: Data(json.utf8)) }

    @Test func theSpecKeyIsChecked() throws {
        let spec = try decode(#"{"model": "gemma-3-270m", "chat_template": "gemma"}"#)
        #expect(spec.chatTemplate == "gemma")
        #expect(throws: (any Error).self) { try decode(#"{"chat_template": "vicuna"}"#) }
        #expect(throws: (any Error).self) { try decode(#"{"backend": "openai", "base_url": "http://127.0.0.1:1", "chat_template": "chatml"}"#) }
        // The key changes answers, so it is part of the configuration; absent, nothing changes.
        let encoded = String(decoding: try JSONEncoder().encode(try decode(#"{"chat_template": "llama3"}"#)), as: UTF8.self)
        let plain = String(decoding: try JSONEncoder().encode(LanguageModelSpec()), as: UTF8.self)
        #expect(encoded.contains("chat_template") && !plain.contains("chat_template"))
    }

    @Test func aBaseModelNeedsAFamilyForChats() throws {
        let path = folder + "/base.gguf"
        try GGUFBuilder.tinyLlama().write(to: path)
        let engine = try LlamaModel(path: path, numerics: .fast)
        let messages = [ChatMessage(role: "user", content: "Hi")]
        let plain = LocalLanguageModel(engine: engine, log: { _ in })
        let error = #expect(throws: RecError.self) { _ = try plain.tokens(.chat(messages)) }
        #expect(error?.message.contains("has no chat template") == true && error?.message.contains("chatml, llama3, gemma") == true, "\(error?.message ?? "")")
        let gemma = LocalLanguageModel(engine: engine, chatTemplate: .gemma, log: { _ in })
        let tokens = try gemma.tokens(.chat(messages))
        #expect(tokens == engine.tokenizer.encode("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", addSpecial: true))
        #expect(gemma.identity != plain.identity && gemma.identity.hasSuffix("chat template gemma"))
    }

    @Test func aTemplateOfAnotherFamilyIsNamedWhenAChatIsSent() throws {
        var builder = GGUFBuilder.tinyLlama()
        builder.set("tokenizer.chat_template", .string("{{ '[INST] ' + message['content'] + ' [/INST]' }}"))
        let path = folder + "/mistral.gguf"
        try builder.write(to: path)
        let model = LocalLanguageModel(engine: try LlamaModel(path: path, numerics: .fast), log: { _ in })
        let error = #expect(throws: RecError.self) { _ = try model.tokens(.chat([ChatMessage(role: "user", content: "Hi")])) }
        #expect(error?.message.contains("not a ChatML, Llama 3 or Gemma template") == true, "\(error?.message ?? "")")
        let text = try model.tokens(.text("Hi"))
        #expect(!text.isEmpty)
    }
}
