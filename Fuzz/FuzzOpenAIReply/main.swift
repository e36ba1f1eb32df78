import Foundation
import RecCore
import RecTesting

@testable import RecLM

/// libFuzzer harness: arbitrary bytes as an HTTP response from an OpenAI-compatible server:
/// the status line, headers, chunked or sized body, then the JSON reply's choices, messages
/// and per-token log-probabilities in both layouts.
let model = try! OpenAILanguageModel(.init(baseURL: "http://127.0.0.1:9", model: "fuzz"))

runLibFuzzer { data, size in
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The whole response, and the bytes as a JSON body on their own (most inputs fail HTTP).
    let bodies = [(try? HTTPClient.parse(bytes))?.body, Data(bytes)]
    for case let body? in bodies {
        guard let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { continue }
        _ = model.usage(json, "prompt_tokens")
        guard let choice = try? model.firstChoice(json, "/v1/completions") else { continue }
        _ = model.finish(choice)
        _ = try? model.tokenLogprobs(choice, "/v1/completions")
        _ = model.snippet(body)
    }
    return 0
}
