import Testing

@testable import RecReport

/// User text inside a report: no name can end a table cell or row, or open a code span.
struct MarkdownEscapingTests {
    @Test func tableCellsEscapeBarsBackticksAndLineBreaks() {
        #expect(Markdown.text("a|b") == "a\\|b")
        #expect(Markdown.text("`x`") == "\\`x\\`")
        #expect(Markdown.text("two\nlines\r\tand\u{1b}[31m") == "two lines  and [31m")
        #expect(Markdown.text("<script>*bold*</script>") == "\\<script\\>\\*bold\\*\\</script\\>")
        #expect(Markdown.text("snake_case-name.v2") == "snake_case-name.v2")
        #expect(!Markdown.text("x\n| y | z |").contains("\n"))
    }

    @Test func codeSpansFenceAroundBackticks() {
        #expect(Markdown.code("plain") == "`plain`")
        #expect(Markdown.code("a`b") == "``a`b``")
        #expect(Markdown.code("`tick`") == "`` `tick` ``")
        #expect(Markdown.code("x``y") == "```x``y```")
        #expect(Markdown.code("line\nbreak") == "`line break`")
    }
}
