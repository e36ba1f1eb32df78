import Foundation
import RecCore
import Testing

@testable import RecTensor

struct OptimizerTests {
    @Test func adamStepsByHand() {
        let theta = Tensor(shape: [1], data: [1], requiresGrad: true)
        let adam = Adam(parameters: [theta], learningRate: 0.1)
        theta.grad = [0.5]
        adam.update()
        // m = 0.05, v = 0.00025; bias-corrected 0.5 and 0.25; step 0.1 * 0.5 / 0.5 = 0.1.
        #expect(abs(theta.data[0] - 0.9) < 1e-6)
        theta.grad = [0.1]
        adam.update()
        // m = 0.055, v = 0.00025975; m̂ = 0.055 / 0.19 = 0.2894737, v̂ = 0.00025975 / 0.001999 = 0.1299400;
        // step = 0.1 * 0.2894737 / 0.3604719 = 0.0803039.
        #expect(abs(theta.data[0] - 0.8196961) < 1e-5)
    }

    @Test func weightDecayCoupledAndDecoupled() {
        let a = Tensor(shape: [1], data: [1], requiresGrad: true), b = Tensor(shape: [1], data: [1], requiresGrad: true)
        let adam = Adam(parameters: [a], learningRate: 0.1, weightDecay: 0.1)
        let adamW = Adam(parameters: [b], learningRate: 0.1, weightDecay: 0.1, decoupledWeightDecay: true)
        a.grad = [0.5]; b.grad = [0.5]
        adam.update(); adamW.update()
        // Adam: the decay joins the gradient (0.6); the first step is still lr · sign = 0.1.
        #expect(abs(a.data[0] - 0.9) < 1e-6)
        // AdamW: θ · (1 - 0.01) = 0.99, then - 0.1.
        #expect(abs(b.data[0] - 0.89) < 1e-6)
    }

    @Test func gradientClipping() {
        let a = Tensor(shape: [1], data: [0], requiresGrad: true), b = Tensor(shape: [1], data: [0], requiresGrad: true)
        a.grad = [3]; b.grad = [4]
        #expect(clipGradientNorm([a, b], maxNorm: 1) == 5)
        #expect(abs(a.grad![0] - 0.6) < 1e-5 && abs(b.grad![0] - 0.8) < 1e-5)
        #expect(clipGradientNorm([a, b], maxNorm: 10) < 1.0001, "below the limit nothing changes")
    }

    @Test func schedules() {
        #expect(LearningRateSchedule.constant.rate(0.1, step: 50) == 0.1)
        #expect(LearningRateSchedule.linearWarmup(warmup: 10).rate(0.1, step: 4) == 0.05)
        #expect(LearningRateSchedule.linearWarmup(warmup: 10).rate(0.1, step: 20) == 0.1)
        let cosine = LearningRateSchedule.cosine(warmup: 0, total: 100, floor: 0)
        #expect(abs(cosine.rate(1, step: 50) - 0.5) < 1e-6)
        #expect(abs(cosine.rate(1, step: 100)) < 1e-6)
    }

    @Test func seededInitialisers() {
        var a = SplitMix64(seed: 4), b = SplitMix64(seed: 4)
        #expect(Initializer.normal([3, 3], std: 0.02, rng: &a).data == Initializer.normal([3, 3], std: 0.02, rng: &b).data)
        let x = Initializer.xavierUniform([8, 2], rng: &a)
        #expect(x.data.allSatisfy { abs($0) <= (6.0 / 10.0).squareRoot() })
    }
}

struct MLPTests {
    /// A 2-16-1 tanh network learns y = sin(2 x1) · x2 on 256 points: the final MSE must be under
    /// 0.01, where predicting the mean gives about 0.22.
    @Test func mlpLearnsANonLinearFunction() {
        var rng = SplitMix64(seed: 42)
        let n = 256
        let inputs = (0..<(n * 2)).map { _ in rng.nextFloat() * 2 - 1 }
        let targets = (0..<n).map { sin(2 * inputs[2 * $0]) * inputs[2 * $0 + 1] }
        let x = Tensor(shape: [n, 2], data: inputs), y = Tensor(shape: [n, 1], data: targets)
        let w1 = Initializer.xavierUniform([2, 16], rng: &rng), b1 = Initializer.constant([16], 0)
        let w2 = Initializer.xavierUniform([16, 1], rng: &rng), b2 = Initializer.constant([1], 0)
        let adam = Adam(parameters: [w1, b1, w2, b2], learningRate: 0.02)
        let mean = targets.reduce(0, +) / Float(n)
        let baseline = targets.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(n)
        var loss: Float = .infinity
        for _ in 0..<1500 {
            adam.zeroGrad()
            let error = (x.matmul(w1) + b1).tanh().matmul(w2) + b2 - y
            let mse = (error * error).mean()
            mse.backward()
            adam.update()
            loss = mse.item
        }
        #expect(baseline > 0.05)
        #expect(loss < 0.01, "final MSE \(loss), baseline \(baseline)")
    }
}

struct SafetensorsTests {
    @Test func roundTripAndLayout() throws {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]), b = Tensor(shape: [1], data: [-1])
        let bytes = try Safetensors.encode(["w": a, "b": b], metadata: ["format": "pt"])
        let headerLength = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect((8 + headerLength) % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.contains("\"b\":{\"data_offsets\":[0,4],\"dtype\":\"F32\",\"shape\":[1]}"))
        let back = try Safetensors.decode(bytes)
        #expect(back["w"]?.shape == [2, 3] && back["w"]?.data == a.data && back["b"]?.data == [-1])
    }

    @Test func truncatedAndWrongFilesAreClearErrors() throws {
        let bytes = try Safetensors.encode(["w": Tensor(shape: [4], data: [1, 2, 3, 4])])
        let truncated = #expect(throws: RecError.self) { _ = try Safetensors.decode(Array(bytes.dropLast(3)), file: "m.safetensors") }
        #expect(truncated?.message.contains("m.safetensors: truncated") == true)
        #expect(throws: RecError.self) { _ = try Safetensors.decode([1, 2, 3], file: "x") }
        var f16 = bytes
        let text = String(decoding: f16[8...], as: UTF8.self).replacingOccurrences(of: "F32", with: "F16")
        f16 = Array(f16[..<8]) + Array(text.utf8)
        let dtype = #expect(throws: RecError.self) { _ = try Safetensors.decode(f16, file: "x") }
        #expect(dtype?.message.contains("F16 shape [4] needs 8 bytes, offsets give 16") == true)
    }

    /// The memory-mapped reader: F32 and F16 tensors, shape checks, missing names, bad files.
    @Test func mappedFileReadsConvertsAndRejects() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("m.safetensors").path
        try Safetensors.save(["w": Tensor(shape: [2, 2], data: [1, -2, 0.5, 3])], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(try file.tensor("w", shape: [2, 2]).data == [1, -2, 0.5, 3])
        #expect((#expect(throws: RecError.self) { _ = try file.tensor("w", shape: [4]) })?.message.contains("has shape [2, 2], expected [4]") == true)
        #expect((#expect(throws: RecError.self) { _ = try file.tensor("v") })?.message.contains("no tensor 'v'") == true)

        // The same file rewritten as F16 (half the bytes): values come back as Float32.
        var bytes = try Safetensors.encode(["w": Tensor(shape: [2, 2], data: [0, 0, 0, 0])])
        let headerLength = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
            .replacingOccurrences(of: "F32", with: "F16").replacingOccurrences(of: "[0,16]", with: "[0,8] ")
        let halves: [Float16] = [1, -2, 0.5, 3]
        bytes = Array(bytes[..<8]) + Array(header.utf8) + halves.withUnsafeBytes { Array($0) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try SafetensorsFile(path: path).tensor("w").data == [1, -2, 0.5, 3])

        try Data(bytes.dropLast(2)).write(to: URL(fileURLWithPath: path))
        #expect((#expect(throws: RecError.self) { _ = try SafetensorsFile(path: path) })?.message.contains("\(path): truncated") == true)
        let missing = directory.appendingPathComponent("none.safetensors").path
        #expect((#expect(throws: RecError.self) { _ = try SafetensorsFile(path: missing) })?.message.contains("\(missing)' does not exist") == true)
    }
}
