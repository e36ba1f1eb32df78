/// exp and erf on eight lanes at once, for the element-wise kernels (GELU, softmax, attention).
/// libm's `expf`/`erff` are called one value at a time and dominated training profiles; these
/// polynomial forms vectorise. Accuracy (checked against libm in VectorMathTests): exp within
/// 2 ulp over [-87, 88] and exactly 0 below; erf within 6e-7 absolute.
public typealias Lanes = SIMD8<Float>

/// e^x. Cephes' range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for e^r,
/// and 2^n through the exponent bits.
@inlinable
public func vexp(_ x: Lanes) -> Lanes {
    // Only lane-wise arithmetic, compares and selects: the generic SIMD helpers (clamped,
    // pointwiseMax, rounded) are not inlined and run one lane at a time.
    let low = Lanes(repeating: -87.33), high = Lanes(repeating: 88.37)
    var clamped = x.replacing(with: low, where: x .< low)
    clamped = clamped.replacing(with: high, where: clamped .> high)
    // Round to nearest: adding 1.5·2²³ leaves the integer part in the low mantissa bits.
    let magic = Lanes(repeating: 12_582_912)
    let shifted = clamped * 1.442695041 + magic
    let n = shifted - magic
    var r = clamped - n * 0.693359375
    r = r + n * 2.12194440e-4
    var p = Lanes(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    let whole = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000)
    let exponent = (whole &+ SIMD8<Int32>(repeating: 127)) &<< SIMD8<Int32>(repeating: 23)
    let scaled = y * unsafeBitCast(exponent, to: Lanes.self)
    return scaled.replacing(with: 0, where: x .< low)
}

/// erf(x) by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), odd-extended. Also returns
/// e^(-x²), which the formula needs and GELU's derivative reuses.
@inlinable
public func verf(_ x: Lanes) -> (erf: Lanes, gaussian: Lanes) {
    let a = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & SIMD8<UInt32>(repeating: 0x7FFF_FFFF), to: Lanes.self)
    let t = 1 / (1 + 0.3275911 * a)
    var p = Lanes(repeating: 1.061405429)
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let gaussian = vexp(-(x * x))
    let magnitude = 1 - p * t * gaussian
    return (magnitude.replacing(with: -magnitude, where: x .< 0), gaussian)
}

/// Applies `body` to `count` values eight at a time; the tail is padded with `pad` and only
/// its real lanes are written back.
@inlinable
public func forEachLanes(
    _ count: Int, pad: Float = 0, _ body: (_ offset: Int, _ load: (UnsafePointer<Float>) -> Lanes) -> Void
) {
    var i = 0
    while i + 8 <= count {
        body(i) { pointer in Lanes(UnsafeBufferPointer(start: pointer + i, count: 8)) }
        i += 8
    }
    if i < count {
        let tail = count - i
        body(i) { pointer in
            var lanes = Lanes(repeating: pad)
            for j in 0..<tail { lanes[j] = pointer[i + j] }
            return lanes
        }
    }
}

extension SIMD8 where Scalar == Float {
    /// The lanes at or past `count` in the group of eight starting at `offset` (a padded tail).
    @inlinable
    public static func tail(_ offset: Int, _ count: Int) -> SIMDMask<SIMD8<Int32>> {
        SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(count - offset))
    }
}

/// Stores the first `min(8, count - offset)` lanes at `pointer + offset`.
@inlinable
public func store(_ lanes: Lanes, _ pointer: UnsafeMutablePointer<Float>, offset: Int, count: Int) {
    let n = min(8, count - offset)
    if n == 8 {
        UnsafeMutableRawPointer(pointer + offset).storeBytes(of: lanes, as: Lanes.self)
    } else {
        for j in 0..<n { pointer[offset + j] = lanes[j] }
    }
}

/// Softmax of one row in place (max-subtracted; entries at -inf become 0).
@inlinable
public func softmaxInPlace(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = -Float.infinity
    for j in 0..<n { m = max(m, row[j]) }
    var total: Float = 0
    forEachLanes(n, pad: -.infinity) { offset, load in
        let e = vexp(load(row) - m)
        total += e.sum()
        store(e, row, offset: offset, count: n)
    }
    let inverse = 1 / total
    for j in 0..<n { row[j] *= inverse }
}

/// log Σ exp over one row.
@inlinable
public func logSumExp(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = -Float.infinity
    for j in 0..<n { m = max(m, row[j]) }
    var total: Float = 0
    forEachLanes(n, pad: -.infinity) { _, load in total += vexp(load(row) - m).sum() }
    return m + log(total)
}

import Foundation
