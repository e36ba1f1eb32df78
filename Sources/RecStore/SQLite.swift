import CSQLite
import Foundation
import RecCore

/// A thin wrapper over one SQLite connection: prepared statements only, typed binds, and
/// transactions that roll back on any error.
public final class SQLiteConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    public let path: String

    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        guard sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw RecError(.store, "cannot open the results database '\(path)': \(message)")
        }
        // Another process may hold the write lock (a parallel `reclab run`): wait, don't fail.
        sqlite3_busy_timeout(handle, 60_000)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs SQL without results. Some statements (switching to WAL while another process opens
    /// the file) report SQLITE_BUSY without consulting the busy timeout; those are retried
    /// with back-off for up to a minute.
    public func execute(_ sql: String) throws {
        var delay: UInt32 = 5_000
        let deadline = Date().addingTimeInterval(60)
        while true {
            var error: UnsafeMutablePointer<CChar>?
            let status = sqlite3_exec(handle, sql, nil, nil, &error)
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            if status == SQLITE_OK { return }
            let busy = status == SQLITE_BUSY || status == SQLITE_LOCKED
            guard busy && Date() < deadline else { throw RecError(.store, "\(path): \(message)") }
            usleep(delay)
            delay = min(delay * 2, 200_000)
        }
    }

    public enum Value: Sendable, Equatable {
        case null, int(Int64), double(Double), text(String), blob([UInt8])
    }

    /// Runs one statement with bound parameters and returns every row.
    @discardableResult
    public func query(_ sql: String, _ parameters: [Value] = []) throws -> [[Value]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw lastError(sql) }
        defer { sqlite3_finalize(statement) }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch parameter {
            case .null: status = sqlite3_bind_null(statement, position)
            case .int(let value): status = sqlite3_bind_int64(statement, position, value)
            case .double(let value): status = sqlite3_bind_double(statement, position, value)
            case .text(let value): status = sqlite3_bind_text(statement, position, value, -1, transient)
            case .blob(let value):
                status = value.withUnsafeBytes { sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), transient) }
            }
            guard status == SQLITE_OK else { throw lastError(sql) }
        }
        var rows: [[Value]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw lastError(sql) }
            var row: [Value] = []
            for column in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT: row.append(.double(sqlite3_column_double(statement, column)))
                case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(statement, column))))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    let bytes = sqlite3_column_blob(statement, column).map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
                    row.append(.blob(bytes))
                default: row.append(.null)
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`; any error rolls everything back.
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func lastError(_ sql: String) -> RecError {
        RecError(.store, "\(path): \(String(cString: sqlite3_errmsg(handle))) (in: \(sql.prefix(80)))")
    }
}

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension SQLiteConnection.Value {
    public var int: Int64? { if case .int(let v) = self { return v }; return nil }
    public var double: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var text: String? { if case .text(let v) = self { return v }; return nil }
    public var blob: [UInt8]? { if case .blob(let v) = self { return v }; return nil }
}
