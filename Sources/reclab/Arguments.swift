import Foundation
import RecCore

/// A small command-line parser: positionals, `--option value` (repeatable), and `--flag`.
/// Unknown options are usage errors that name the nearest known one.
struct Arguments {
    var positionals: [String] = []
    var options: [String: [String]] = [:]
    var flags: Set<String> = []

    init(_ raw: ArraySlice<String>, options known: Set<String>, flags knownFlags: Set<String>) throws {
        var iterator = raw.makeIterator()
        while let word = iterator.next() {
            if word == "--" {
                while let rest = iterator.next() { positionals.append(rest) }
                break
            }
            guard word.hasPrefix("-") && word.count > 1 else {
                positionals.append(word)
                continue
            }
            var name = word
            var inlineValue: String?
            if let equals = word.firstIndex(of: "="), word.hasPrefix("--") {
                name = String(word[..<equals])
                inlineValue = String(word[word.index(after: equals)...])
            }
            if knownFlags.contains(name) {
                flags.insert(name)
            } else if known.contains(name) {
                guard let value = inlineValue ?? iterator.next() else { throw RecError.usage("\(name) needs a value") }
                // `--db --quiet` means a forgotten value, not a database named "--quiet".
                if inlineValue == nil, known.contains(value) || knownFlags.contains(value) {
                    throw RecError.usage("\(name) needs a value, found the option '\(value)'")
                }
                options[name, default: []].append(value)
            } else {
                var message = "unknown option '\(name)'"
                if let near = nearest(name, in: Array(known) + Array(knownFlags)) { message += "; did you mean '\(near)'?" }
                throw RecError.usage(message)
            }
        }
    }

    func value(_ name: String) -> String? { options[name]?.last }
    func values(_ name: String) -> [String] { options[name] ?? [] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// A whole number in `range` (every count a command takes has one).
    func int(_ name: String, default value: Int, in range: ClosedRange<Int> = 0...Int(Int32.max)) throws -> Int {
        guard let text = self.value(name) else { return value }
        guard let parsed = Int(text) else { throw RecError.usage("\(name) expects a whole number, got '\(Excerpt.of(text))'") }
        guard range.contains(parsed) else {
            throw RecError.usage("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(parsed)")
        }
        return parsed
    }

    /// A count of at least 1 (sizes, repeats, epochs).
    func intPositive(_ name: String, default value: Int) throws -> Int {
        try int(name, default: value, in: 1...Int(Int32.max))
    }

    /// A seed: any whole number from 0 to 2^64 - 1.
    func seed(_ name: String, default value: UInt64 = 0) throws -> UInt64 {
        guard let text = self.value(name) else { return value }
        guard let parsed = UInt64(text) else {
            throw RecError.usage("\(name) expects a whole number from 0 to \(UInt64.max), got '\(Excerpt.of(text))'")
        }
        return parsed
    }

    /// A finite number in `range`.
    func double(_ name: String, default value: Double, in range: ClosedRange<Double>) throws -> Double {
        guard let text = self.value(name) else { return value }
        guard let parsed = Double(text), parsed.isFinite else {
            throw RecError.usage("\(name) expects a finite number, got '\(Excerpt.of(text))'")
        }
        guard range.contains(parsed) else {
            throw RecError.usage("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(parsed)")
        }
        return parsed
    }

    /// Exactly `count` positionals, or a usage error naming what is missing.
    func positionals(_ count: Int, _ what: String) throws -> [String] {
        guard positionals.count == count else {
            throw RecError.usage(positionals.count < count ? "missing \(what)" : "unexpected argument '\(positionals[count])'")
        }
        return positionals
    }
}
