import Baselines
import CTR
import KAR
import LLMRec
import LLMText
import PALR
import Rating
import RatingLM
import RecCore
import SASRec
import TextEncoders
import TextGraph
import TIGER

/// The one list of plugins this build knows. Adding a plugin means adding one line here.
public func makeRegistry() throws -> Registry {
    var registry = Registry()
    try registry.register(Popularity.self)
    try registry.register(ItemKNN.self)
    try registry.register(EASE.self)
    try registry.register(BPRMF.self)
    try registry.register(LogisticRegression.self)
    try registry.register(FactorizationMachine.self)
    try registry.register(DeepCTR<DeepFM>.self)
    try registry.register(DeepCTR<XDeepFM>.self)
    try registry.register(DeepCTR<DCNv2>.self)
    try registry.register(DeepCTR<AutoInt>.self)
    try registry.register(DeepCTR<FiBiNet>.self)
    try registry.register(DeepCTR<DIN>.self)
    try registry.register(KAR.self)
    try registry.register(KARReasoning.self)
    try registry.register(KARHistory.self)
    try registry.register(KARFacts.self)
    try registry.register(MeanRating.self)
    try registry.register(BiasedMF.self)
    try registry.register(RatingMLP.self)
    try registry.register(RatingTransformer.self)
    try registry.register(LLMRating.self)
    try registry.register(TunedLLMRating.self)
    try registry.register(SASRec.self)
    try registry.register(MiniLMEncoder.self)
    try registry.register(HashingTFIDF.self)
    try registry.register(PALRProfile.self)
    try registry.register(PALRRanker.self)
    try registry.register(LLMItemText.self)
    try registry.register(LLMRecText.self)
    try registry.register(TextMLP.self)
    try registry.register(CTRRetriever.self)
    try registry.register(ItemGraphDeriver.self)
    try registry.register(SemanticIDDeriver.self)
    try registry.register(TIGER.self)
    try registry.register(GraphKNN.self)
    try registry.register(command: PALRCommand.self)
    return registry
}
