import Foundation
import RecTesting
import Testing

@testable import RecStore

/// LLM rating prediction end to end with the real SmolLM2 on the tiny dataset: one scoring call
/// per test pair, prompts quoted in the report, and a second seed answered from the call cache
/// with the same numbers.
@Suite(.serialized) struct RatingLMCommandTests {
    static let spec = Fixtures.directory + "/tiny/tiny-rating-llm.yaml"

    static func scoreCalls(_ db: String) throws -> Int {
        let store = try ResultStore(path: db, readOnly: true)
        return Int(try store.db.query("SELECT COUNT(*) FROM lm_calls WHERE kind = 'score'")[0][0].int ?? -1)
    }

    static func metrics(_ db: String, seed: Int) throws -> [String] {
        let store = try ResultStore(path: db, readOnly: true)
        return try store.db.query(
            "SELECT m.name || '=' || printf('%.12f', m.value) FROM metrics m JOIN cells c ON c.id = m.cell_id WHERE c.pipeline = 'zero-shot' AND c.seed = \(seed) ORDER BY m.name"
        ).map { $0[0].text ?? "" }
    }

    @Test func oneScoringCallPerPairAndCachedOnTheNextSeed() throws {
        let folder = Fixtures.temporaryDirectory()
        let db = folder + "/rating.sqlite", report = folder + "/rating.md"
        let run = try CLI.run(["run", Self.spec, "--db", db, "--report", report, "--pipelines", "global-mean,zero-shot"])
        #expect(run.status == 0, "\(run.stderr)")
        // Scoring reports its progress in lines a log keeps, every twentieth of the pairs.
        #expect(run.stderr.contains("llm_rating: pairs scored 4/80, ") && run.stderr.contains("llm_rating: pairs scored 80/80, "), "\(run.stderr)")
        // 80 users, each with one held-out last rating: one call per pair, five answers each,
        // its prompt's tokens counted.
        #expect(try Self.scoreCalls(db) == 80)
        let store = try ResultStore(path: db, readOnly: true)
        let prompts = try store.db.query("SELECT MIN(prompt_tokens), SUM(completion_tokens) FROM lm_calls WHERE kind = 'score'")[0]
        #expect((prompts[0].int ?? 0) > 40 && prompts[1].int == 400, "\(prompts)")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("| zero-shot |") && text.contains("> [user] Here is a user's rating history, oldest first (1 to 5 stars):"), "\(text)")
        #expect(text.contains("P(1…5 stars): "), "\(text)")
        let first = try Self.metrics(db, seed: 1)
        #expect(first.count == 3, "\(first)")

        // The zero-shot prompts do not depend on the seed: the next seed makes no model call.
        let again = try CLI.run(["run", Self.spec, "--db", db, "--no-report", "--pipelines", "zero-shot", "--set", "seeds=[2]"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.scoreCalls(db) == 80)
        #expect(try Self.metrics(db, seed: 2) == first)
    }

    /// `evaluation.users` scores the test pairs of a fixed sample of the users, the same for
    /// every pipeline, so that a language model's calls shrink with it and paired tests pair.
    @Test func aSampleOfTestUsersIsScored() throws {
        let folder = Fixtures.temporaryDirectory()
        let db = folder + "/rating.sqlite", report = folder + "/rating.md"
        let run = try CLI.run([
            "run", Self.spec, "--db", db, "--report", report, "--pipelines", "global-mean,zero-shot", "--set", "evaluation.users=20",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.scoreCalls(db) == 20, "one call per sampled user's pair")
        let store = try ResultStore(path: db, readOnly: true)
        let cells = try store.cells(of: try store.experiment(named: "tiny-rating-llm")).filter { $0.status == .done }
        let users = try cells.map { try #require(try store.perUser(cell: $0.id, name: "rmse", k: 0)).users }
        #expect(users.count == 2 && users[0].count == 20 && users[0] == users[1], "\(users)")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("the test pairs of a fixed sample of 20 test users (seed"), "\(text)")
    }
}
