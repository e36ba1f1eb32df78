import Foundation
import RecCore
import RecStore

extension MarkdownReport {
    /// Seconds per stage and what each cell cost, means over seeds, and where a pipeline used a
    /// language model, the headline metric against tokens with the Pareto front.
    static func costSection(data: ReportData, figures: inout FigureSet) throws -> String {
        let info = data.info
        var out = "## Timings and cost\n\n"
        out += "Means per cell over seeds. fit = training, or restoring a trained model from the stage cache; evaluate = scoring and metrics on the test users. "
        out += "LLM calls made and answered from the call cache; "
        out += "tokens count every call, cached or not, so they do not change when a cell is run again from the cache; LLM s is the wall time spent in calls "
        out += "that reached a model in the run that finished the cell; peak RSS is the process's peak resident memory while the cell ran, "
        out += "which includes what earlier cells in the same process left resident. "
        out +=
            "A cell counts the calls of the augment stages it wrote itself; texts restored from the stage store, or written beforehand (`reclab run --stages-only`, as multi-lane runs do), count in no cell; the table of augment strategies below, where there is one, counts each strategy's calls once. "
        out +=
            "A likelihood-scoring call counts the continuation tokens it scored as generated tokens, and its prompt tokens where the backend reports them (the local engine does, an OpenAI-compatible server does not).\n\n"
        out += "| pipeline | fit s | evaluate s | LLM calls | from cache | prompt tokens | generated tokens | LLM s | peak RSS MiB |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        var tokens: [String: Double] = [:]
        for pipeline in info.pipelines {
            var fit: [Double] = [], evaluate: [Double] = []
            for (_, cell) in data.doneCells(data.base, pipeline) {
                for timing in try data.store.timings(cell: cell.id) {
                    if timing.stage == "fit" { fit.append(timing.seconds) }
                    if timing.stage == "evaluate" { evaluate.append(timing.seconds) }
                }
            }
            func mean(_ list: [Double]) -> String { list.isEmpty ? "–" : String(format: "%.2f", meanStd(list).mean) }
            let costs = try data.costs(pipeline)
            func cost(_ name: String, _ format: (Double) -> String) -> String { costs?[name].map(format) ?? "–" }
            let whole: (Double) -> String = { grouped(Int($0.rounded())) }
            out += "| \(Markdown.text(pipeline)) | \(mean(fit)) | \(mean(evaluate)) | "
            out +=
                [
                    cost("llm_calls", whole), cost("llm_cached", whole), cost("prompt_tokens", whole), cost("generated_tokens", whole),
                    cost("llm_seconds") { String(format: "%.1f", $0) }, cost("peak_rss_bytes") { String(format: "%.0f", $0 / 1_048_576) },
                ].joined(separator: " | ") + " |\n"
            if let costs { tokens[pipeline] = (costs["prompt_tokens"] ?? 0) + (costs["generated_tokens"] ?? 0) }
        }
        out += "\n" + (try augmentCostTable(data: data))
        guard tokens.values.contains(where: { $0 > 0 }) else { return out }
        for column in headline(data) {
            let points = info.pipelines.compactMap { pipeline in
                tokens[pipeline].flatMap { cost in data.summary(column, pipeline).map { Plot.CostPoint(label: pipeline, cost: cost, value: $0.mean) } }
            }
            guard points.count > 1 else { continue }
            let title = "\(info.name): \(column) against LLM tokens per cell"
            out += figures.add(
                "cost-\(column).svg", title: title,
                svg: Plot.costScatter(
                    title: title, costLabel: "LLM tokens per cell (prompt + generated)", metric: "\(column) (mean over seeds)", points: points,
                    higherIsBetter: ReportData.higherIsBetter(column)))
        }
        return out
    }

    /// What each augment strategy's calls cost, from the calls the store recorded per stage of
    /// the current plan; empty when the experiment has no recorded augment stage.
    static func augmentCostTable(data: ReportData) throws -> String {
        let costs = try data.store.augmentCosts(experiment: data.info.name)
        let outside = try data.store.augmentStagesOutsidePlan(experiment: data.info.name)
        let outsideNote =
            outside == 0
            ? ""
            : "\(outside) recorded augment stage(s) were built by no cell of the current plan (for a configuration the spec no longer has, or recorded before stages were linked to the cells that build them) and are left out; "
                + "`reclab augment \(data.info.specFile) --db DB --recount` links the stages the current plan builds.\n\n"
        guard !costs.isEmpty else { return outsideNote }
        var out =
            "What the augment stages' language-model calls cost, per strategy: an augmenter with its configuration, with one stage per split or seed its texts depend on, and one entry per item or user (an empty text where there was nothing to prompt with). "
        out += "Calls are the distinct calls the strategy's stages made, whether a model answered them or the call cache did, with their stored token counts; "
        out += "\"cut\" counts answers that stopped at their max_tokens. "
        out += "Wall time is read off the times the calls were stored: calls more than ten minutes apart start a new sitting (a resumed run, or other work in between), "
        out += "and the sittings' spans are added, each from its first to its last stored call.\n\n"
        out += "| strategy | pipelines | stages | entries | calls | prompt tokens | generated tokens | cut | sittings | wall s | generated tokens/s | all tokens/s |\n"
        out += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        let order = Dictionary(data.info.pipelines.enumerated().map { ($1, $0) }, uniquingKeysWith: min)
        for cost in costs {
            let pipelines = cost.pipelines.sorted { (order[$0] ?? .max, $0) < (order[$1] ?? .max, $1) }
            let rate = { (tokens: Int) in cost.seconds > 0 ? String(format: "%.1f", Double(tokens) / cost.seconds) : "–" }
            let cut = cost.calls > 0 ? String(format: "%.1f%%", 100 * Double(cost.cut) / Double(cost.calls)) : "–"
            let cells: [String] = [
                Markdown.text("\(cost.kind) → \(cost.fields.joined(separator: ", "))"), Markdown.text(pipelines.joined(separator: ", ")), "\(cost.stages)",
                grouped(cost.entries), grouped(cost.calls), grouped(cost.promptTokens), grouped(cost.generatedTokens), cut, "\(cost.sittings)",
                grouped(Int(cost.seconds.rounded())), rate(cost.generatedTokens), rate(cost.promptTokens + cost.generatedTokens),
            ]
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        out += "\n"
        let unrecorded = costs.map(\.unrecordedStages).reduce(0, +), missing = costs.map(\.missingCalls).reduce(0, +)
        if unrecorded > 0 {
            out += "\(unrecorded) stage(s) hold texts with no recorded call: written by an augmenter that calls no model, or before calls were recorded per stage, whose calls are left out above; "
            out += "`reclab augment \(data.info.specFile) --db DB --recount` records those from the call cache.\n\n"
        }
        out += outsideNote
        if missing > 0 {
            out += "\(grouped(missing)) recorded call(s) are not in this database's call cache and are left out above; importing the calls (`reclab cache import`) counts them.\n\n"
        }
        return out
    }
}
