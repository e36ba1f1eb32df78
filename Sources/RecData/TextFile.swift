import Foundation
import RecCore

/// A data file read whole into memory, decompressed when it ends in `.xz`, and split into lines
/// with 1-based line numbers for error messages.
public struct TextFile: Sendable {
    public enum Encoding: Sendable { case utf8, latin1 }

    public let path: String
    public let bytes: [UInt8]

    /// The largest data file read, compressed or not (MovieLens 1M's ratings are 24 MB).
    public static let maxBytes = 1 << 30

    public init(path: String) throws {
        self.path = path
        let raw = try InputFile.read(path, what: "data file", limit: Self.maxBytes)
        var bytes = path.hasSuffix(".xz") ? try XZ.decompress(raw, path: path, limit: Self.maxBytes) : raw
        // A UTF-8 byte order mark is not part of the first field.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        self.bytes = bytes
    }

    /// The file's lines without line endings (`\n`, `\r\n`, or a lone `\r` as old Mac
    /// files have), each with its line number.
    public func lines(encoding: Encoding = .utf8) throws -> [(number: Int, text: String)] {
        var result: [(Int, String)] = []
        var start = 0
        var number = 1
        func emit(_ end: Int) throws {
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            let slice = bytes[start..<stop]
            switch encoding {
            case .latin1:
                result.append((number, String(slice.map { Character(Unicode.Scalar($0)) })))
            case .utf8:
                guard let text = String(validating: slice, as: UTF8.self) else {
                    throw RecError.data("invalid UTF-8 text", at: SourceLocation(file: path, line: number, column: 1))
                }
                result.append((number, text))
            }
        }
        for (index, byte) in bytes.enumerated() {
            // A lone CR ends a line; CR LF ends one line at the LF (emit drops the CR).
            let isLoneCR = byte == 0x0D && (index + 1 == bytes.count || bytes[index + 1] != 0x0A)
            guard byte == 0x0A || isLoneCR else { continue }
            try emit(isLoneCR ? index + 1 : index)
            start = index + 1
            number += 1
        }
        if start < bytes.count { try emit(bytes.count) }
        return result
    }

    /// The CSV records of the file (RFC 4180 quoting, one record per line), header included.
    public func csvRows() throws -> [[String]] {
        try lines().map { try csvFields($0.text, file: self, number: $0.number) }
    }

    public func location(line: Int, column: Int = 1) -> SourceLocation {
        SourceLocation(file: path, line: line, column: column)
    }
}

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
func csvFields(_ line: String, file: TextFile, number: Int) throws -> [String] {
    var fields: [String] = []
    var current = ""
    var quoted = false
    var iterator = Array(line).makeIterator()
    var column = 0
    var pendingQuote = false
    while let ch = iterator.next() {
        column += 1
        if quoted {
            if pendingQuote {
                pendingQuote = false
                if ch == "\"" { current.append("\""); continue }
                quoted = false
            } else if ch == "\"" {
                pendingQuote = true
                continue
            } else {
                current.append(ch)
                continue
            }
        }
        if ch == "," {
            fields.append(current)
            current = ""
        } else if ch == "\"" && current.isEmpty {
            quoted = true
        } else {
            current.append(ch)
        }
    }
    if quoted && !pendingQuote {
        throw RecError.data("unterminated quoted field", at: file.location(line: number, column: column))
    }
    fields.append(current)
    return fields
}
