import RecCore

/// A claim that one pipeline comes within `margin` of another on a metric, which the report
/// tests at every point of the sweep (a one-sided paired t-test on per-user values: the null
/// hypothesis is that `pipeline` is worse than `against` by `margin` or more). Report only.
///
/// ```yaml
/// evaluation:
///   margins:
///     - { pipeline: tuned-regression, against: biased-mf, metric: mae, margin: 0.1 }
/// ```
public struct MarginSpec: Sendable, Codable, Equatable {
    public var pipeline: String
    public var against: String
    /// A metric of the evaluation, with its cutoff where it takes one (`ndcg@10`).
    public var metric: String
    /// How much worse `pipeline` may be, in the metric's units (> 0).
    public var margin: Double

    enum CodingKeys: String, CodingKey, CaseIterable { case pipeline, against, metric, margin }

    public init(pipeline: String, against: String, metric: String, margin: Double) {
        self.pipeline = pipeline
        self.against = against
        self.metric = metric
        self.margin = margin
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pipeline = try c.decode(String.self, forKey: .pipeline)
        against = try c.decode(String.self, forKey: .against)
        guard pipeline != against else {
            throw DecodingError.dataCorruptedError(forKey: .against, in: c, debugDescription: "a margin compares two different pipelines; both are '\(pipeline)'")
        }
        metric = try c.decode(String.self, forKey: .metric)
        margin = try c.decode(Double.self, forKey: .margin)
        guard margin > 0 && margin.isFinite else {
            throw DecodingError.dataCorruptedError(forKey: .margin, in: c, debugDescription: "\(margin) must be a positive number in the metric's units")
        }
    }

    /// The metric's name and cutoff (0 for a metric without one).
    public var metricParts: (name: String, k: Int) {
        guard let at = metric.lastIndex(of: "@"), let k = Int(metric[metric.index(after: at)...]) else { return (metric, 0) }
        return (String(metric[..<at]), k)
    }

    /// Why this margin cannot be tested under `evaluation`, or nil when it can.
    func problem(in evaluation: EvaluationSpec) -> String? {
        let (name, k) = metricParts
        guard evaluation.metrics.contains(name), let definition = MetricCatalog.definition(name) else {
            return "metric '\(metric)' is not one of the evaluation's metrics (\(evaluation.metrics.joined(separator: ", ")))"
        }
        if definition.usesCutoff && !evaluation.cutoffs.contains(k) {
            return "metric '\(metric)' needs one of the evaluation's cutoffs, e.g. '\(name)@\(evaluation.cutoffs[0])'"
        }
        if !definition.usesCutoff && k != 0 { return "metric '\(name)' takes no cutoff; write '\(name)'" }
        return nil
    }
}
