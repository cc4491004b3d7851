using System.Text;
using System.Text.Json;
using MeatLizard.Application.Inference;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Inference;

/// <summary>
/// What a schema may cost: the grammar grows with the schema, never with what it could unfold to, and a schema beyond
/// the bounds is refused naming the bound (the API answers it with a 400 on <c>response_format</c>).
/// </summary>
public sealed class JsonSchemaGrammarBoundsTests
{
    /// <summary>
    /// Objects nested <paramref name="depth"/> deep, each listing its type twice: before types were taken once, each
    /// level walked its properties once per entry, so the grammar doubled with every level (195·2^depth characters).
    /// </summary>
    public static string DoubledTypes(int depth)
    {
        var schema = """{"type":"string"}""";
        for (var i = 0; i < depth; i++)
        {
            schema = """{"type":["object","object"],"properties":{"a":""" + schema + ""","b":{"type":"number"}}}""";
        }

        return schema;
    }

    /// <summary>Each level a choice between the same sub-schema twice: the same doubling through anyOf.</summary>
    private static string RepeatedChoices(int depth)
    {
        var schema = """{"type":"integer"}""";
        for (var i = 0; i < depth; i++)
        {
            schema = """{"anyOf":[{"type":"array","items":""" + schema + """},{"type":"array","items":""" + schema + "}]}";
        }

        return schema;
    }

    [Test]
    public void ATypeListedTwice_IsWalkedOnce_SoNestingAddsRulesInsteadOfDoublingThem()
    {
        var fifteen = Grammar(DoubledTypes(15));
        var fourteen = Grammar(DoubledTypes(14));

        Assert.That(fifteen.Length - fourteen.Length, Is.LessThan(400), "one more level is a few rules more");
        Assert.That(fifteen.Length, Is.LessThan(10_000));
    }

    [Test]
    public void ASubSchemaWrittenTwice_IsOneRule_NamedWhereverItComesAgain()
    {
        // Each level (two of nesting: anyOf, then items) holds its inner schema twice: 2^7 copies of the innermost.
        var seven = Grammar(RepeatedChoices(7));
        var six = Grammar(RepeatedChoices(6));

        Assert.That(seven.Length - six.Length, Is.LessThan(300), "one more level is a few rules more");
    }

    [TestCase(17)]
    [TestCase(20)]
    [TestCase(23)]
    public void ASchemaNestedDeeperThanTheBound_IsRefused_NamingTheBound(int depth)
    {
        var refused = Refused(DoubledTypes(depth));

        Assert.That(refused.Message, Does.Contain($"deeper than {JsonSchemaGrammar.MaxDepth} levels"));
    }

    [Test]
    public void ASchemaLongerThanTheBound_IsRefused_BeforeAnyOfItIsWalked()
    {
        var properties = string.Join(",", Enumerable.Range(0, 20_000).Select(i => $"\"p{i}\":true"));

        var refused = Refused(ObjectOf(properties));

        Assert.That(refused.Message, Does.Contain("characters long"));
    }

    [Test]
    public void ASchemaMakingMoreRulesThanTheBound_IsRefused()
    {
        // Within the length bound, but each property is two rules.
        var properties = string.Join(",", Enumerable.Range(0, 6_000).Select(i => $"\"{i}\":true"));

        var refused = Refused(ObjectOf(properties));

        Assert.That(refused.Message, Does.Contain($"more than {JsonSchemaGrammar.MaxRules} rules"));
    }

    [Test]
    public void BoundsAskingForMoreRepetitionsThanTheHostShouldUnfold_AreRefused()
    {
        var properties = string.Join(",", Enumerable.Range(0, 300).Select(i => $$"""
            "s{{i}}":{"type":"string","maxLength":{{700 + i}}}
            """));

        var refused = Refused(ObjectOf(properties));

        Assert.That(refused.Message, Does.Contain("repetitions"));
    }

    [Test]
    public void ACallerThatWentAway_StopsTheWork()
    {
        using var document = JsonDocument.Parse(DoubledTypes(10));
        using var gone = new CancellationTokenSource();
        gone.Cancel();

        Assert.Throws<OperationCanceledException>(() => JsonSchemaGrammar.From(document.RootElement, gone.Token));
    }

    [Test]
    public void RecursiveDefinitions_AreStillOneRuleEach()
    {
        var grammar = Grammar("""
            {"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},
              "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"]}},
             "$ref":"#/$defs/node"}
            """);

        Assert.That(grammar, Does.Contain("ref-0 ::= "));
        Assert.That(grammar.Split('\n').Count(l => l.StartsWith("ref-", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    private static string ObjectOf(string properties) => """{"type":"object","properties":{""" + properties + "}}";

    private static string Grammar(string schema)
    {
        using var document = JsonDocument.Parse(schema);
        return JsonSchemaGrammar.From(document.RootElement);
    }

    private static JsonSchemaNotSupportedException Refused(string schema)
    {
        using var document = JsonDocument.Parse(schema, new JsonDocumentOptions { MaxDepth = 256 });
        return Assert.Throws<JsonSchemaNotSupportedException>(() => JsonSchemaGrammar.From(document.RootElement))!;
    }
}
