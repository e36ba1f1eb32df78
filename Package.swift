// swift-tools-version:6.0
import Foundation
import PackageDescription

let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

// The block-quantised kernels use AVX2, FMA and F16C (Haswell and later); RecQuant checks the CPU
// before they run, and only that small module is built for it.
// RecQuantWide holds the AVX-512 (with VNNI) variants, run only where the CPU has them.
#if arch(x86_64)
    let quantKernels: [SwiftSetting] = optimisedInDebug + [.unsafeFlags(["-target-cpu", "haswell"])]
    let wideKernels: [SwiftSetting] = optimisedInDebug + [.unsafeFlags(["-target-cpu", "cascadelake"])]
#else
    let quantKernels: [SwiftSetting] = optimisedInDebug
    let wideKernels: [SwiftSetting] = optimisedInDebug
#endif

let package = Package(
    name: "RecLab",
    products: [
        .executable(name: "reclab", targets: ["reclab"]),
        .library(name: "RecLab", targets: ["RecRunner", "AllPlugins"]),
    ],
    targets: [
        // MARK: - C libraries from Debian (see scripts/setup.sh for the apt packages)
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLZMA", path: "Sources/CLZMA", providers: [.apt(["liblzma-dev"])]),
        // zlib only for the tests, which decode the PNGs rsvg-convert draws from report figures.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: - Core
        // RecCore hashes model files (SHA-256), so it is optimised in debug builds too.
        .target(name: "RecCore", swiftSettings: optimisedInDebug),
        .target(name: "RecSpec", dependencies: ["RecCore", "CYAML"]),
        .target(name: "RecData", dependencies: ["RecCore", "CLZMA"], resources: [.copy("Embedded")]),
        .target(name: "RecEval", dependencies: ["RecCore", "COpenBLAS"]),
        .target(name: "RecGraph", dependencies: ["RecCore", "COpenBLAS"], swiftSettings: optimisedInDebug),
        // The numeric modules are optimised in debug builds too, so `swift test` runs real
        // models (MiniLM, SASRec) in seconds rather than minutes.
        .target(name: "RecTensor", dependencies: ["RecCore", "COpenBLAS"], swiftSettings: optimisedInDebug + [.unsafeFlags(["-Xcc", "-fno-math-errno"])]),
        .target(name: "RecText", dependencies: ["RecCore", "RecTensor", "COpenBLAS"], swiftSettings: optimisedInDebug),
        .target(name: "RecQuantWide", swiftSettings: wideKernels),
        .target(name: "RecQuant", dependencies: ["RecCore", "RecQuantWide"], swiftSettings: quantKernels),
        .target(name: "RecLM", dependencies: ["RecCore", "RecTensor", "RecQuant", "COpenBLAS"], swiftSettings: optimisedInDebug),
        .target(name: "RecStore", dependencies: ["RecCore", "CSQLite"]),
        .target(name: "RecReport", dependencies: ["RecCore", "RecStore", "RecEval"]),
        .target(
            name: "RecRunner",
            dependencies: ["RecCore", "RecSpec", "RecData", "RecEval", "RecStore"]),

        // MARK: - Plugins
        .target(
            name: "Baselines", dependencies: ["RecCore", "RecEval", "COpenBLAS"],
            path: "Plugins/Baselines"),
        .target(
            name: "SASRec", dependencies: ["RecCore", "RecEval", "RecTensor", "COpenBLAS"], path: "Plugins/SASRec",
            exclude: ["README.md"]),
        .target(name: "TextEncoders", dependencies: ["RecCore", "RecText"], path: "Plugins/TextEncoders"),
        .target(name: "PALR", dependencies: ["RecCore", "RecLM", "RecTensor"], path: "Plugins/PALR", exclude: ["README.md"]),
        .target(name: "CTR", dependencies: ["RecCore", "RecTensor"], path: "Plugins/CTR", exclude: ["README.md"], swiftSettings: optimisedInDebug),
        .target(name: "Rating", dependencies: ["RecCore", "RecTensor", "COpenBLAS"], path: "Plugins/Rating", exclude: ["README.md"], swiftSettings: optimisedInDebug),
        .target(name: "LLMText", dependencies: ["RecCore", "RecLM"], path: "Plugins/LLMText", exclude: ["README.md"]),
        .target(name: "RatingLM", dependencies: ["RecCore", "RecLM", "RecTensor"], path: "Plugins/RatingLM", exclude: ["README.md"]),
        .target(name: "KAR", dependencies: ["RecCore", "RecLM", "RecTensor", "CTR"], path: "Plugins/KAR", exclude: ["README.md"], swiftSettings: optimisedInDebug),
        .target(name: "LLMRec", dependencies: ["RecCore", "RecLM", "RecGraph", "RecTensor", "CTR", "KAR"], path: "Plugins/LLMRec", exclude: ["README.md"], swiftSettings: optimisedInDebug),
        .target(name: "TextGraph", dependencies: ["RecCore", "COpenBLAS"], path: "Plugins/TextGraph", exclude: ["README.md"], swiftSettings: optimisedInDebug),
        .target(name: "TIGER", dependencies: ["RecCore", "RecTensor", "CTR"], path: "Plugins/TIGER", exclude: ["README.md"], swiftSettings: optimisedInDebug),
        .target(
            name: "AllPlugins", dependencies: ["RecCore", "Baselines", "SASRec", "TextEncoders", "PALR", "CTR", "Rating", "LLMText", "TextGraph", "KAR", "LLMRec", "RatingLM", "TIGER"],
            path: "Plugins/AllPlugins"),

        // MARK: - CLI
        .executableTarget(
            name: "reclab", dependencies: ["RecRunner", "RecReport", "AllPlugins", "SASRec", "TextEncoders", "PALR", "RecLM", "RecQuant", "RecTensor", "COpenBLAS", "CTR", "RecData"]),

        // MARK: - Tests
        .target(name: "RecTesting", dependencies: ["RecCore", "RecData", "RecLM", "RecSpec", "RecTensor"], path: "Sources/RecTesting"),
        .testTarget(name: "RecCoreTests", dependencies: ["RecCore", "AllPlugins", "Baselines"]),
        .testTarget(name: "RecSpecTests", dependencies: ["RecSpec", "RecRunner", "RecStore", "RecData", "RecReport", "AllPlugins", "RecTesting"]),
        .testTarget(name: "RecDataTests", dependencies: ["RecData", "RecTesting"]),
        .testTarget(name: "RecGraphTests", dependencies: ["RecGraph", "RecCore", "RecTesting"]),
        .testTarget(name: "RecEvalTests", dependencies: ["RecEval", "RecData", "RecTesting"]),
        .testTarget(name: "RecTensorTests", dependencies: ["RecTensor"]),
        .testTarget(name: "RecTextTests", dependencies: ["RecText", "RecTensor", "TextEncoders", "RecTesting"]),
        .testTarget(name: "RecQuantTests", dependencies: ["RecQuant", "RecCore"]),
        .testTarget(name: "RecLMTests", dependencies: ["RecLM", "RecQuant", "RecStore", "RecTesting"]),
        .testTarget(name: "SASRecTests", dependencies: ["SASRec", "RecTensor", "RecData", "RecEval", "RecTesting"]),
        .testTarget(name: "PALRTests", dependencies: ["PALR", "AllPlugins", "RecRunner", "RecReport", "RecLM", "RecStore", "RecData", "RecTesting"]),
        .testTarget(name: "RecReportTests", dependencies: ["RecReport", "RecStore", "RecEval", "CZlib"]),
        .testTarget(name: "RecStoreTests", dependencies: ["RecStore", "RecTesting"]),
        .testTarget(name: "CTRTests", dependencies: ["CTR", "RecData", "RecEval", "RecSpec", "RecTensor", "RecTesting"]),
        .testTarget(name: "LLMRecTests", dependencies: ["LLMRec", "CTR", "AllPlugins", "RecRunner", "RecSpec", "RecStore", "RecLM", "RecTensor", "RecTesting"]),
        .testTarget(name: "KARTests", dependencies: ["KAR", "CTR", "RecLM", "RecSpec", "RecTensor", "RecTesting"]),
        .testTarget(name: "TIGERTests", dependencies: ["TIGER", "RecTensor", "RecSpec", "RecTesting"]),
        .testTarget(name: "RatingTests", dependencies: ["Rating", "RecData", "RecEval", "RecTensor", "RecTesting"]),
        .testTarget(name: "RatingLMTests", dependencies: ["RatingLM", "RecLM", "RecSpec", "RecTesting"]),
        .testTarget(name: "BaselinesTests", dependencies: ["Baselines", "AllPlugins", "RecData", "RecEval", "RecTesting"]),
        .testTarget(name: "StageGraphTests", dependencies: ["LLMText", "TextGraph", "AllPlugins", "RecRunner", "RecSpec", "RecStore", "RecData", "RecLM", "RecTesting"]),
        .testTarget(name: "RecLabCLITests", dependencies: ["reclab", "RecStore", "RecSpec", "RecTesting"]),
    ],
    swiftLanguageModes: [.v6]
)

// MARK: - Fuzzing harnesses (libFuzzer), built only by scripts/fuzz.sh, which sets RECLAB_FUZZ
// and the sanitizer flags: without libFuzzer's main they would not link.
if ProcessInfo.processInfo.environment["RECLAB_FUZZ"] != nil {
    let harnesses: [(String, [Target.Dependency])] = [
        ("FuzzSpec", ["RecSpec"]), ("FuzzData", ["RecData"]), ("FuzzGGUF", ["RecLM"]), ("FuzzSafetensors", ["RecTensor"]),
        ("FuzzTokenizers", ["RecLM", "RecText"]), ("FuzzOpenAIReply", ["RecLM"]),
    ]
    for (name, dependencies) in harnesses {
        package.targets.append(.executableTarget(name: name, dependencies: dependencies + ["RecCore", "RecTesting"], path: "Fuzz/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
