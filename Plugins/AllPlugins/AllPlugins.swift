import Baselines
import PALR
import RecCore
import SASRec
import TextEncoders

/// The one list of plugins this build knows. Adding a plugin means adding one line here.
public func makeRegistry() throws -> Registry {
    var registry = Registry()
    try registry.register(Popularity.self)
    try registry.register(ItemKNN.self)
    try registry.register(EASE.self)
    try registry.register(BPRMF.self)
    try registry.register(SASRec.self)
    try registry.register(MiniLMEncoder.self)
    try registry.register(HashingTFIDF.self)
    try registry.register(PALRProfile.self)
    try registry.register(PALRRanker.self)
    return registry
}
