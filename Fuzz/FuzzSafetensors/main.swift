import RecCore
import RecTesting
import RecTensor

/// libFuzzer harness: arbitrary bytes as a safetensors checkpoint (header length, JSON
/// header, dtypes, shapes, offsets).
runLibFuzzer { data, size in
    guard let data else { return 0 }
    _ = try? Safetensors.decode(Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.safetensors")
    return 0
}
