import Foundation
import Testing

@testable import RecRunner

/// A resumed run skips a cell only while the process that claimed it still runs; a claimer that
/// exited (reaped or a zombie) must not hold its cell back.
@Suite struct RunnerLivenessTests {
    /// Starts /bin/true and returns its pid once it has exited but is not yet reaped.
    private func zombie() throws -> pid_t {
        var pid: pid_t = 0
        let path = "/bin/true"
        let spawned = path.withCString { cPath -> Int32 in
            var argv: [UnsafeMutablePointer<CChar>?] = [strdup(cPath), nil]
            defer { free(argv[0]) }
            return posix_spawn(&pid, cPath, nil, nil, &argv, nil)
        }
        try #require(spawned == 0)
        for _ in 0..<500 {
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                stat.contains(") Z")
            {
                return pid
            }
            usleep(10_000)
        }
        Issue.record("pid \(pid) did not become a zombie within 5 s")
        return pid
    }

    @Test func thisProcessIsAlive() {
        #expect(Runner.isAlive(getpid()))
        #expect(Runner.isAlive(getppid()))
    }

    @Test func zombiesAndReapedProcessesAreNot() throws {
        let pid = try zombie()
        #expect(kill(pid, 0) == 0)  // the old check would have taken it for a live owner
        #expect(!Runner.isAlive(pid))
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(!Runner.isAlive(pid))
        #expect(!Runner.isAlive(0))
        #expect(!Runner.isAlive(-1))
    }
}
