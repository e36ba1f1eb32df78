import Foundation

/// Progress on long work, written to standard error: a live bar on a terminal, plain lines
/// otherwise (so logs of batch jobs stay readable).
public final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal: Bool
    private let quiet: Bool
    private var liveLine = false

    /// A reporter for components that have none handed to them.
    public static let standardError = ProgressReporter()

    public init(quiet: Bool = false) {
        self.quiet = quiet
        isTerminal = isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// A line that stays (cell finished, epoch finished).
    public func line(_ text: String) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        if liveLine { write("\r\u{1B}[2K"); liveLine = false }
        write(text + "\n")
    }

    /// A live status (`done/total` with elapsed time and ETA), redrawn in place on a terminal.
    /// Elsewhere it prints nothing: logs get the lines of `line(_:)` only.
    /// - Parameter keep: whether the finished bar stays on screen (false: it is erased).
    /// - Parameter detail: appended to the status (a rate, say).
    public func status(_ label: String, done: Int, total: Int, started: Date, keep: Bool = true, detail: String = "") {
        guard !quiet, total > 0, isTerminal else { return }
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let text = "\(label) \(done)/\(total) \(Self.clock(elapsed)) elapsed, ETA \(Self.clock(eta))" + (detail.isEmpty ? "" : ", " + detail)
        lock.lock(); defer { lock.unlock() }
        let width = 24
        let filled = width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        write("\r\u{1B}[2K[\(bar)] " + text)
        liveLine = true
        if done == total {
            write(keep ? "\n" : "\r\u{1B}[2K")
            liveLine = false
        }
    }

    /// A line that stays, at every twentieth of `total` and at the end: `label done/total,
    /// elapsed, ETA`, for long batches whose progress logs should keep.
    public func milestone(_ label: String, done: Int, total: Int, started: Date) {
        guard total > 0, done % max(1, total / 20) == 0 || done == total else { return }
        let elapsed = Date().timeIntervalSince(started)
        line("\(label) \(done)/\(total), \(Self.clock(elapsed)) elapsed, ETA \(Self.clock(elapsed / Double(max(done, 1)) * Double(total - done)))")
    }

    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
