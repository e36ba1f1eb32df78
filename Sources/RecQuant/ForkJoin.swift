import Foundation
import RecCore
import Synchronization

/// Fork-join for the short parallel sections of token-by-token generation (a few hundred of
/// them per token, each tens of microseconds): worker threads that stay alive, spin for a
/// moment waiting for the next section, and only then sleep. `DispatchQueue.concurrentPerform`
/// wakes a sleeping worker every time, which costs more than the section itself.
final class ForkJoin: @unchecked Sendable {
    static let shared = ForkJoin(workers: max(0, activeCores - 1))

    let workers: Int
    /// Bumped once per section; workers run each generation once.
    private let generation = Atomic<Int>(0)
    /// Workers finished with the current section.
    private let finished = Atomic<Int>(0)
    private let sleeping = NSCondition()
    private let busy = NSLock()
    private var job: ((Int) -> Void)?

    init(workers: Int) {
        self.workers = workers
        for index in 0..<workers {
            let thread = Thread { [unowned self] in self.work(index + 1) }
            thread.name = "RecQuant worker \(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(0)` … `body(workers)` at once, `body(0)` on the calling thread, and returns
    /// when all have finished. One section at a time: a caller arriving while another section
    /// runs (two models used from two threads) runs every part itself.
    func run(_ body: (Int) -> Void) {
        guard workers > 0, busy.try() else {
            for index in 0...workers { body(index) }
            return
        }
        defer { busy.unlock() }
        withoutActuallyEscaping(body) { body in
            job = body
            finished.store(0, ordering: .relaxed)
            sleeping.lock()
            generation.add(1, ordering: .releasing)
            sleeping.broadcast()
            sleeping.unlock()
            body(0)
            while finished.load(ordering: .acquiring) < workers { spinPause() }
            job = nil
        }
    }

    private func work(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < 100_000 {
                    spinPause()
                } else {
                    sleeping.lock()
                    while generation.load(ordering: .acquiring) == seen { sleeping.wait() }
                    sleeping.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            job?(index)
            finished.add(1, ordering: .releasing)
        }
    }
}

@inline(__always) func spinPause() {
    #if arch(x86_64)
        // _mm_pause has no Swift spelling; a short dependent loop stands in for it.
        var x = 0
        for i in 0..<8 { x &+= i }
        _ = x
    #endif
}

/// How many parts `parallelParts` runs: one per core.
public var parallelPartCount: Int { ForkJoin.shared.workers + 1 }

/// Runs `body(part, parallelPartCount)` for every part at once on RecQuant's persistent
/// workers (see `ForkJoin`); for short sections repeated many times per second.
public func parallelParts(_ body: (_ part: Int, _ parts: Int) -> Void) {
    let parts = parallelPartCount
    ForkJoin.shared.run { body($0, parts) }
}

/// Runs `body` over `0..<count` cut into one contiguous range per part, the parts at once when
/// there are at least `minimum` items (fewer are not worth waking the workers for).
public func parallelRanges(_ count: Int, minimum: Int = 16, _ body: (Range<Int>) -> Void) {
    guard count >= minimum, parallelPartCount > 1 else {
        body(0..<count)
        return
    }
    parallelParts { part, parts in body((part * count / parts)..<((part + 1) * count / parts)) }
}
