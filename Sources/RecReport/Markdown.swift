/// Escaping for text that comes from users (pipeline names, sweep labels, error messages)
/// and is placed inside Markdown: a `|` would end a table cell, a line break a table row, and
/// a backtick an inline code span.
enum Markdown {
    /// `text` as one table cell or heading: `|`, backticks, `*`, angle brackets and backslashes
    /// escaped (`_` is left alone: GitHub does not read it as emphasis inside a word), line
    /// breaks and other control characters shown as spaces.
    static func text(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "|", "`", "*", "<", ">", "\\": out += "\\" + String(scalar)
            case _ where scalar.properties.generalCategory == .control: out += " "
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` as an inline code span outside tables: fenced with more backticks than it holds
    /// in a row, and padded with spaces when it starts or ends with one.
    static func code(_ text: String) -> String {
        let body = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        var longest = 0, run = 0
        for ch in body {
            run = ch == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = body.hasPrefix("`") || body.hasSuffix("`") ? " " : ""
        return fence + pad + body + pad + fence
    }
}
