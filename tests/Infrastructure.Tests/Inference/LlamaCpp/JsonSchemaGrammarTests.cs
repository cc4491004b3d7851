using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Inference;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// Structured output judged by what the model writes under it: the real llama-server samples the generated test model
/// (which writes gibberish on its own) under the grammar of each schema, several seeds each, and every finished answer
/// must be valid under the schema. Then the keywords a grammar cannot keep, refused where they are.
/// </summary>
[NonParallelizable]
public sealed class JsonSchemaGrammarTests
{
    private static readonly long[] Seeds = [1, 2, 3, 4, 5, 6];

    private LlamaServerEngine _engine = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // No --ignore-eos here: a finished grammar leaves the model nothing but the end of the answer.
        var options = Options(("Parallel", "2"));
        _engine = new LlamaServerEngine(options, LlamaCppInstallation.Resolve(options, needsCompletionBinary: false),
            NullLogger<LlamaServerEngine>.Instance);
        await _engine.StartAsync(CancellationToken.None);
        await _engine.WaitUntilReadyAsync(CancellationToken.None);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _engine.DisposeAsync();

    [Test]
    public async Task RequiredAndOptionalProperties_EnumsAndBoundedStrings_AreKept()
    {
        const string schema = """
            {"type":"object","properties":{
              "name":{"type":"string","minLength":1,"maxLength":8},
              "legs":{"type":"integer"},
              "colour":{"enum":["green","brown",null]},
              "nick":{"type":"string","maxLength":4},
              "venomous":{"type":"boolean"}},
             "required":["name","colour","venomous"],"additionalProperties":false}
            """;

        foreach (var answer in await AnswersAsync(schema))
        {
            var names = answer.EnumerateObject().Select(p => p.Name).ToList();
            Assert.That(names, Is.SubsetOf(new[] { "name", "legs", "colour", "nick", "venomous" }), answer.GetRawText());
            Assert.That(names, Does.Contain("name").And.Contain("colour").And.Contain("venomous"), answer.GetRawText());
            Assert.That(names, Is.Unique);
            Assert.That(answer.GetProperty("name").GetString()!.Length, Is.InRange(1, 8));
            Assert.That(answer.GetProperty("colour").ToString(), Is.AnyOf("green", "brown", ""));
            Assert.That(answer.GetProperty("venomous").ValueKind, Is.AnyOf(JsonValueKind.True, JsonValueKind.False));
            if (answer.TryGetProperty("legs", out var legs))
            {
                Assert.That(legs.TryGetInt64(out _), Is.True, answer.GetRawText());
            }

            if (answer.TryGetProperty("nick", out var nick))
            {
                Assert.That(nick.GetString()!.Length, Is.LessThanOrEqualTo(4));
            }
        }
    }

    [Test]
    public async Task BoundedArrays_AnyOfAndConstants_AreKept()
    {
        const string schema = """
            {"type":"object","properties":{
              "tags":{"type":"array","items":{"type":"string","maxLength":3},"minItems":2,"maxItems":3},
              "size":{"anyOf":[{"type":"number"},{"const":"unknown"}]},
              "kind":{"const":"lizard"}},
             "required":["tags","size","kind"]}
            """;

        foreach (var answer in await AnswersAsync(schema))
        {
            var tags = answer.GetProperty("tags");
            Assert.That(tags.GetArrayLength(), Is.InRange(2, 3), answer.GetRawText());
            Assert.That(tags.EnumerateArray().Select(t => t.GetString()!.Length), Has.All.LessThanOrEqualTo(3));
            var size = answer.GetProperty("size");
            Assert.That(size.ValueKind == JsonValueKind.Number || size.GetString() == "unknown", answer.GetRawText());
            Assert.That(answer.GetProperty("kind").GetString(), Is.EqualTo("lizard"));
        }
    }

    [Test]
    public async Task RecursiveReferences_AreKept()
    {
        const string schema = """
            {"$defs":{"node":{"type":"object","properties":{
               "id":{"type":"integer"},
               "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
              "required":["id"]}},
             "$ref":"#/$defs/node"}
            """;

        foreach (var answer in await AnswersAsync(schema))
        {
            AssertNode(answer);
        }

        static void AssertNode(JsonElement node)
        {
            Assert.That(node.GetProperty("id").TryGetInt64(out _), Is.True, node.GetRawText());
            Assert.That(node.EnumerateObject().Select(p => p.Name), Is.SubsetOf(new[] { "id", "children" }));
            if (node.TryGetProperty("children", out var children))
            {
                Assert.That(children.GetArrayLength(), Is.LessThanOrEqualTo(2));
                foreach (var child in children.EnumerateArray())
                {
                    AssertNode(child);
                }
            }
        }
    }

    [TestCase("""{"type":"string","pattern":"^a+$"}""", "#/pattern")]
    [TestCase("""{"type":"object","properties":{"n":{"type":"number","minimum":3}}}""", "#/properties/n/minimum")]
    [TestCase("""{"oneOf":[{"type":"string"},{"type":"number"}]}""", "#/oneOf")]
    [TestCase("""{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}""", "#/required")]
    [TestCase("""{"$ref":"https://example.org/schema"}""", "#/$ref")]
    [TestCase("""{"$ref":"#/$defs/missing"}""", "#/$ref")]
    [TestCase("""{"type":"array","minItems":3,"maxItems":2}""", "#/maxItems")]
    [TestCase("""{"type":"string","maxLength":100000}""", "#/maxLength")]
    [TestCase("""{"type":"decimal"}""", "#/type")]
    [TestCase("""{"enum":[]}""", "#/enum")]
    [TestCase("""[1,2]""", "#")]
    public void WhatAGrammarCannotKeep_IsRefusedWhereItIs(string schema, string path)
    {
        using var document = JsonDocument.Parse(schema);

        var refused = Assert.Throws<JsonSchemaNotSupportedException>(() => JsonSchemaGrammar.From(document.RootElement));

        Assert.That(refused!.Path, Is.EqualTo(path), refused.Message);
    }

    [Test]
    public void Annotations_AreReadPast()
    {
        using var document = JsonDocument.Parse("""
            {"$schema":"https://json-schema.org/draft/2020-12/schema","title":"T","description":"d",
             "type":"object","properties":{"a":{"type":"string","description":"x","default":"y","examples":["z"]}},
             "additionalProperties":false}
            """);

        Assert.That(JsonSchemaGrammar.From(document.RootElement), Does.Contain("root ::= "));
    }

    /// <summary>The finished answers under the schema's grammar, one per seed; each must parse.</summary>
    private async Task<List<JsonElement>> AnswersAsync(string schema)
    {
        var format = """{"type":"json_schema","json_schema":{"name":"t","schema":""" + schema + "}}";
        var answers = new List<JsonElement>();
        foreach (var seed in Seeds)
        {
            var (text, _, completed) = await CollectAsync(_engine, Request("Describe a lizard.", maxTokens: 400) with
            {
                Extras = new GenerationExtras(Seed: seed, ResponseFormat: format),
            });
            if (completed.FinishReason != "stop")
            {
                continue; // cut off by max tokens: not a whole value, nothing to judge
            }

            answers.Add(JsonDocument.Parse(text).RootElement.Clone());
        }

        Assert.That(answers, Has.Count.GreaterThanOrEqualTo(Seeds.Length / 2),
            "most answers under a bounded schema finish within 400 tokens");
        return answers;
    }
}
