import Foundation
import RecCore
import RecTesting
import RecData

/// libFuzzer harness: arbitrary bytes as the main file of each data format (the first byte
/// picks the format), read from a scratch folder in memory-backed /dev/shm when there is one.
let folder: String = {
    let path = fuzzScratchPath("data")
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    try? Data("movieId,title,genres\n1,A (1995),Drama\n".utf8).write(to: URL(fileURLWithPath: path + "/movies.csv"))
    return path
}()

runLibFuzzer { data, size in
    guard let data else { return 0 }
    guard size > 0 else { return 0 }
    let body = Data(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let (file, load): (String, () throws -> Dataset) =
        switch data[0] % 5 {
        case 0: ("ratings.csv", { try Loaders.movieLensLatest(directory: folder) })
        case 1: ("u.data", { try Loaders.movieLens100K(directory: folder) })
        case 2: ("fuzz.inter", { try Loaders.recBole(directory: folder, name: "fuzz") })
        case 3: ("user_sequence.txt", { try Loaders.amazonSequences(file: folder + "/user_sequence.txt", titles: nil, name: "fuzz") })
        default: ("ratings.dat", { try Loaders.movieLens1M(ratings: folder + "/ratings.dat", movies: nil, name: "fuzz") })
        }
    try? body.write(to: URL(fileURLWithPath: folder + "/" + file))
    if let dataset = try? load() {
        _ = dataset.withoutDuplicates()
        _ = dataset.fingerprint
        _ = try? dataset.split(.leaveOneOut)
    }
    return 0
}
