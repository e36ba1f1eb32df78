/// A location in an input file, printed like a compiler diagnostic (`file:line:column`).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// The one error type of RecLab's core modules.
///
/// `kind` says which family the error belongs to (so the CLI can pick an exit code and tests can
/// match it), `message` says what went wrong and how to fix it, `location` points into the input
/// file when there is one, and `keyPath` names the configuration key (`pipelines.ease.l2`).
public struct RecError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Command-line misuse: exit code 64.
        case usage
        /// Malformed or invalid experiment specification.
        case spec
        /// Unreadable, malformed or empty data file.
        case data
        /// Unknown plugin kind or a duplicate registration.
        case registry
        /// The results store (SQLite) failed.
        case store
        /// A plugin failed while training or scoring.
        case plugin
        /// Anything else, such as an I/O failure.
        case io
    }

    public var kind: Kind
    public var message: String
    public var location: SourceLocation?
    public var keyPath: String?

    public init(_ kind: Kind, _ message: String, at location: SourceLocation? = nil, key: String? = nil) {
        self.kind = kind
        self.message = message
        self.location = location
        self.keyPath = key
    }

    public var description: String {
        var out = ""
        if let location { out += "\(location): " }
        if let keyPath, !keyPath.isEmpty { out += "\(keyPath): " }
        return out + message
    }
}

extension RecError {
    public static func usage(_ message: String) -> RecError { RecError(.usage, message) }
    public static func data(_ message: String, at location: SourceLocation? = nil) -> RecError {
        RecError(.data, message, at: location)
    }
}
