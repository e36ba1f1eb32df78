import RecCore
import Testing

@testable import RecSpec

struct YAMLTests {
    @Test func scalarsKeepTheirLocationAndPlainness() throws {
        let root = try YAMLParser.parse("a: 1\nb:\n  - 'x'\n  - y\n", file: "t.yaml")
        #expect(root["a"]?.value == .scalar("1", plain: true))
        #expect(root["a"]?.location == SourceLocation(file: "t.yaml", line: 1, column: 4))
        let items = try #require(root["b"]?.items)
        #expect(items[0].value == .scalar("x", plain: false))
        #expect(items[1].location.line == 4)
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        let text = """
            defaults: &d { factors: 32, epochs: 5 }
            model:
              <<: *d
              epochs: 10
            copy: *d
            """
        let root = try YAMLParser.parse(text, file: "m.yaml")
        #expect(root.node(at: ["model", "factors"])?.scalar == "32")
        #expect(root.node(at: ["model", "epochs"])?.scalar == "10", "explicit keys win over merged ones")
        #expect(root.node(at: ["copy", "epochs"])?.scalar == "5")
        #expect(root.node(at: ["copy"])?.location.line == 5, "an alias carries the location where it is used")
    }

    @Test func mergeOfSeveralMappingsPrefersEarlierSources() throws {
        let root = try YAMLParser.parse("a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc:\n  <<: [*a, *b]\n", file: "m.yaml")
        #expect(root.node(at: ["c", "x"])?.scalar == "1")
        #expect(root.node(at: ["c", "y"])?.scalar == "3")
    }

    @Test func nullScalars() throws {
        let root = try YAMLParser.parse("a:\nb: ~\nc: null\nd: 'null'\n", file: "n.yaml")
        #expect(root["a"]?.isNull == true)
        #expect(root["b"]?.isNull == true)
        #expect(root["c"]?.isNull == true)
        #expect(root["d"]?.isNull == false, "a quoted 'null' is text")
    }

    @Test func snakeAndCamelCaseRoundTrip() {
        #expect(snakeCase("learningRate") == "learning_rate")
        #expect(camelCase("learning_rate") == "learningRate")
        #expect(snakeCase("l2") == "l2")
    }
}
