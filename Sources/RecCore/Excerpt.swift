import Foundation

/// Short, printable excerpts of untrusted text for error messages: an error may quote what it
/// found, but never a whole file, a multi-megabyte value or raw control characters.
public enum Excerpt {
    /// `text` with control characters escaped (`\n`, `\u{1b}`) and cut to `limit` characters
    /// with an ellipsis that says how much was left out.
    public static func of(_ text: String, limit: Int = 60) -> String {
        var out = ""
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown == limit {
                let rest = text.unicodeScalars.count - shown
                return out + "… (\(rest) more characters)"
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
            shown += 1
        }
        return out
    }

    /// Whether `text` holds a control character (line breaks included).
    public static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}

/// Removes secrets from text that is about to be printed: the user and password of URLs
/// (`http://user:pw@host` -> `http://***@host`) and any of the given secret values.
public enum Redaction {
    public static func url(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            out += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { "/?# \n'\"".contains($0) }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                out += "***"
                rest = rest[at...]
            }
        }
        return out + rest
    }

    /// `text` with URL credentials and every non-empty secret replaced by `***`.
    public static func redact(_ text: String, secrets: [String] = []) -> String {
        var out = url(text)
        for secret in secrets where secret.count >= 4 { out = out.replacingOccurrences(of: secret, with: "***") }
        return out
    }
}
