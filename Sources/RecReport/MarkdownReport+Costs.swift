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
        out += "Calls that augment stages make are not counted in any cell: a stage writes its texts once, before the cells that read them, and every cell restores them from the stage store. "
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
        out += "\n"
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
}
