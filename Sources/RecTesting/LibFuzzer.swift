import Foundation

/// A scratch path for a harness's files, unique to the process: in memory-backed /dev/shm
/// where there is one, since a harness writes its input to a file on every run.
public func fuzzScratchPath(_ name: String) -> String {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return base + "/reclab-fuzz-\(getpid())-" + name
}

/// Hands `body` to libFuzzer's driver and exits with its status. The fuzzing harnesses in
/// Fuzz/ call this from their `main.swift`: SwiftPM gives an executable its own `main`, so
/// libFuzzer's `main` never runs, and its driver is found by name (the harnesses are linked
/// with `-sanitize=fuzzer`, which brings it in; scripts/fuzz.sh builds them).
public func runLibFuzzer(_ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    typealias Driver =
        @convention(c) (
            UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
            @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
        ) -> CInt
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver") else {
        FileHandle.standardError.write(Data("this binary was not linked with -sanitize=fuzzer (build it with scripts/fuzz.sh)\n".utf8))
        exit(2)
    }
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(unsafeBitCast(symbol, to: Driver.self)(&argc, &argv, body))
}
