/// Top-K selection over a score row with excluded items.
///
/// Ties are broken by the smaller item id, so results never depend on scan order or threads.
public enum TopK {
    /// The `k` best items of `scores`, best first, skipping items where `excluded[item]` is set.
    @inlinable
    public static func select(_ scores: UnsafeBufferPointer<Float>, k: Int, excluded: (Int) -> Bool) -> [Int32] {
        guard k > 0 else { return [] }
        // A min-heap of the best k seen so far; the root is the worst of them.
        var heapScores = [Float](); heapScores.reserveCapacity(k)
        var heapItems = [Int32](); heapItems.reserveCapacity(k)
        @inline(__always) func worse(_ s1: Float, _ i1: Int32, _ s2: Float, _ i2: Int32) -> Bool {
            s1 < s2 || (s1 == s2 && i1 > i2)
        }
        for index in 0..<scores.count {
            var score = scores[index]
            if score.isNaN { score = -.infinity }
            if heapScores.count == k && !worse(heapScores[0], heapItems[0], score, Int32(index)) { continue }
            if excluded(index) { continue }
            if heapScores.count < k {
                heapScores.append(score)
                heapItems.append(Int32(index))
                var child = heapScores.count - 1
                while child > 0 {
                    let parent = (child - 1) / 2
                    guard worse(heapScores[child], heapItems[child], heapScores[parent], heapItems[parent]) else { break }
                    heapScores.swapAt(child, parent); heapItems.swapAt(child, parent)
                    child = parent
                }
            } else {
                heapScores[0] = score
                heapItems[0] = Int32(index)
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var smallest = parent
                    if left < k && worse(heapScores[left], heapItems[left], heapScores[smallest], heapItems[smallest]) { smallest = left }
                    if right < k && worse(heapScores[right], heapItems[right], heapScores[smallest], heapItems[smallest]) { smallest = right }
                    if smallest == parent { break }
                    heapScores.swapAt(parent, smallest); heapItems.swapAt(parent, smallest)
                    parent = smallest
                }
            }
        }
        return zip(heapScores, heapItems).sorted { worse($1.0, $1.1, $0.0, $0.1) }.map(\.1)
    }
}
