import COpenBLAS
import Foundation
import Synchronization

/// OpenBLAS's thread count is one setting for the whole process. Code that calls BLAS from
/// several of its own threads at once (data-parallel training shares, encoder batches) must
/// have it at one meanwhile: two threads driving OpenBLAS's shared thread pool at once can
/// corrupt each other's results. Such sections may overlap (tests run concurrently), so the
/// count is set when the first opens and restored when the last closes, never in between.
public enum BLASThreads {
    private static let state = Mutex((open: 0, saved: Int32(0)))

    /// Runs `body` with BLAS single-threaded when `when` holds, else runs it as it is.
    public static func single<T>(when condition: Bool = true, _ body: () throws -> T) rethrows -> T {
        guard condition else { return try body() }
        state.withLock { state in
            if state.open == 0 {
                state.saved = openblas_get_num_threads()
                openblas_set_num_threads(1)
            }
            state.open += 1
        }
        defer {
            state.withLock { state in
                state.open -= 1
                if state.open == 0 { openblas_set_num_threads(state.saved) }
            }
        }
        return try body()
    }
}
