import RecCore
import RecTesting
import RecSpec

/// libFuzzer harness: arbitrary bytes as a spec file, through libyaml, the node builder
/// (aliases, merges, limits) and the strict decoder. Any RecError is a correct answer; a trap,
/// an address-sanitizer report, a leak of the stack or a time-out is a finding.
runLibFuzzer { data, size in
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let tree = try? YAMLParser.parse(bytes, file: "fuzz.yaml") else { return 0 }
    _ = try? NodeDecoder().decode(ExperimentSpec.self, from: tree)
    _ = SpecLoader.render(tree)
    return 0
}
