import Foundation
import RecCore
import RecSpec

extension ExperimentPlan {
    /// Where an augment stage writes: per item (an item augmenter) or per user (a user-level
    /// augmenter run over every user's training history).
    enum AugmentLevel: String { case item, user }

    /// A pipeline's pre-training stages with their resolved configurations.
    struct Stages {
        var augment: [(spec: AugmentStageSpec, level: AugmentLevel, json: String)] = []
        var derive: [(spec: ComponentSpec, output: String, json: String)] = []

        /// The stages' part of a cell's configuration, written only when there are stages, so
        /// that cells of pipelines without them keep their keys.
        var cellKeyParts: (augment: String, derive: String) {
            let augmentPart =
                augment.isEmpty
                ? ""
                : "\"augment\":["
                    + augment.map { stage in
                        let imported = (try? stage.spec.importFile.map { ",\"import\":" + (try canonicalJSON($0)) }) ?? nil
                        let shuffled = stage.spec.shuffle ? ",\"shuffle\":true" : ""
                        return
                            "{\"config\":\(stage.json)\(imported ?? ""),\"level\":\"\(stage.level.rawValue)\"\(shuffled),\"type\":\"\(stage.spec.component.kind)\",\"writes\":\"\(stage.spec.writes)\"}"
                    }.joined(separator: ",")
                    + "],"
            let derivePart = derive.isEmpty ? "" : "\"derive\":[" + derive.map { "{\"config\":\($0.json),\"type\":\"\($0.spec.kind)\"}" }.joined(separator: ",") + "],"
            return (augmentPart, derivePart)
        }

        /// `llm.item_text(...) writes summary; item_graph(...)` for the report's pipeline list.
        var description: String {
            let augmentText = augment.map {
                "\(ExperimentPlan.describe($0.spec.component.kind, $0.json)) writes \($0.level.rawValue) field \($0.spec.writes)"
                    + ($0.spec.importFile.map { " (imported from \(($0 as NSString).lastPathComponent))" } ?? "")
                    + ($0.spec.shuffle ? " (shuffled across \($0.level.rawValue)s: a control)" : "")
            }
            let deriveText = derive.map { "\(ExperimentPlan.describe($0.spec.kind, $0.json)) derives the \($0.output)" }
            return (augmentText + deriveText).joined(separator: "; ")
        }
    }

    /// Resolves and checks a pipeline's augment and derive stages: each kind serves the role
    /// its list needs, a derive stage that reads item vectors has an encoder upstream, no two
    /// stages derive the same artifact, and every artifact the head reads is derived.
    static func stages(of pipeline: PipelineSpec, registry: Registry) throws -> Stages {
        var stages = Stages()
        let context = ComponentContext(seed: 0)
        let key = "pipelines.\(pipeline.name)"
        for (index, stage) in pipeline.augment.enumerated() {
            let component = stage.component
            let resolved: (AugmentLevel, String) = try locatingRegistryErrors(at: component, key: "\(key).augment.\(index).type") {
                if registry.itemAugmenterKinds.contains(component.kind) {
                    return (.item, try registry.makeItemAugmenter(kind: component.kind, configuration: component, context: context).1)
                } else if registry.augmenterKinds.contains(component.kind) {
                    return (.user, try registry.makeAugmenter(kind: component.kind, configuration: component, context: context).1)
                } else {
                    let valid = (registry.itemAugmenterKinds + registry.augmenterKinds).sorted()
                    var message = "'\(component.kind)' writes no text: an augment stage is an item augmenter or a user-level augmenter; kinds: \(valid.joined(separator: ", "))"
                    if registry.roles(of: component.kind).isEmpty, let near = nearest(component.kind, in: valid) { message += " (did you mean '\(near)'?)" }
                    throw RecError(.spec, message, at: component.typeLocation, key: "\(key).augment.\(index).type")
                }
            }
            stages.augment.append((stage, resolved.0, resolved.1))
        }
        for (index, slot) in pipeline.derive.enumerated() {
            let (deriver, json) = try locatingRegistryErrors(at: slot, key: "\(key).derive.\(index).type") {
                try registry.makeDeriver(kind: slot.kind, configuration: slot, context: context)
            }
            if deriver.readsItemVectors && pipeline.encoder == nil {
                throw RecError(
                    .spec, "derive stage '\(slot.kind)' of pipeline '\(pipeline.name)' reads item vectors; give the pipeline an encoder: slot", at: slot.typeLocation,
                    key: "\(key).derive.\(index).type")
            }
            if let earlier = stages.derive.first(where: { $0.output == deriver.output }) {
                throw RecError(
                    .spec, "derive stages '\(earlier.spec.kind)' and '\(slot.kind)' both build the \(deriver.output); keep one", at: slot.typeLocation, key: "\(key).derive.\(index).type")
            }
            stages.derive.append((slot, deriver.output, json))
        }
        let head = pipeline.head
        let made: Any =
            pipeline.retriever != nil
            ? try registry.makeRetriever(kind: head.kind, configuration: head, context: context).0
            : try registry.makeScorer(kind: head.kind, configuration: head, context: context).0
        if let reader = made as? any ReadsVectors {
            let slotKey = "\(key).\(pipeline.retriever != nil ? "retriever" : "scorer").type"
            if (reader.readsUserVectors || reader.readsItemVectors) && pipeline.encoder == nil {
                throw RecError(.spec, "'\(head.kind)' reads encoder vectors; give pipeline '\(pipeline.name)' an encoder: slot", at: head.typeLocation, key: slotKey)
            }
            if reader.readsUserVectors && pipeline.encodeUserFields.isEmpty {
                throw RecError(
                    .spec, "'\(head.kind)' reads user vectors; name the user text to encode under encode_user_fields: (fields that augment stages of pipeline '\(pipeline.name)' write)",
                    at: head.typeLocation, key: slotKey)
            }
        }
        if let reader = made as? any ReadsDerived {
            for name in reader.readsDerived where !stages.derive.contains(where: { $0.output == name }) {
                throw RecError(
                    .spec,
                    "'\(head.kind)' reads the \(name), which no derive stage of pipeline '\(pipeline.name)' builds; add one under derive: (deriver kinds: \(registry.deriverKinds.joined(separator: ", ")))",
                    at: head.typeLocation, key: "\(key).\(pipeline.retriever != nil ? "retriever" : "scorer").type")
            }
        }
        return stages
    }
}
