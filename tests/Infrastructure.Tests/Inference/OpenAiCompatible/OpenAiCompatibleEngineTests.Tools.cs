using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using NUnit.Framework;
using static MeatLizard.TestKit.LoopbackChatServer;

namespace MeatLizard.Infrastructure.Tests.Inference.OpenAiCompatible;

/// <summary>Function calling through the OpenAI-compatible engine: tools out, streamed tool calls in.</summary>
public sealed partial class OpenAiCompatibleEngineTests
{
    private const string Tools = """[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]""";

    [Test]
    public async Task Generate_WithTools_SendsThemAndTheConversationsCalls_AndGathersTheStreamedCallsByIndex()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteStreamAsync(
        [
            ToolCallChunk(0, "call_a", "get_weather", ""),
            ToolCallChunk(0, null, null, """{"city":"""),
            ToolCallChunk(1, "call_b", "get_weather", """{"city":"Oslo"}"""),
            ToolCallChunk(0, null, null, "\"Paris\"}", finish: "tool_calls"),
            Usage(30, 12),
        ]);
        using var engine = Engine(server.BaseUrl);
        var earlier = ToolCall.Create("call_0", "get_weather", """{"city":"Rome"}""");
        var request = Request("tiny") with
        {
            Turns =
            [
                new ChatTurn(MessageRole.User, "Weather in Rome?"),
                new ChatTurn(MessageRole.Assistant, "", [earlier]),
                new ChatTurn(MessageRole.Tool, "sunny", ToolCallId: "call_0"),
                new ChatTurn(MessageRole.User, Prompt),
            ],
            Extras = new GenerationExtras(Tools: Tools, ToolChoice: "\"required\"", ParallelToolCalls: true),
        };

        var (text, _, completed) = await CollectAsync(engine, request);

        Assert.That(text, Is.Empty);
        Assert.That(completed.FinishReason, Is.EqualTo("tool_calls"));
        Assert.That(completed.ToolCalls!.Select(c => (c.Id, c.Name, c.Arguments)), Is.EqualTo(new[]
        {
            ("call_a", "get_weather", """{"city":"Paris"}"""),
            ("call_b", "get_weather", """{"city":"Oslo"}"""),
        }));
        var body = server.Completions.Single().Json;
        Assert.Multiple(() =>
        {
            Assert.That(body["tools"]!.ToJsonString(), Is.EqualTo(JsonNode.Parse(Tools)!.ToJsonString()));
            Assert.That(body["tool_choice"]!.GetValue<string>(), Is.EqualTo("required"));
            Assert.That(body["parallel_tool_calls"]!.GetValue<bool>(), Is.True);
            var messages = body["messages"]!.AsArray();
            Assert.That(messages.Select(m => m!["role"]!.GetValue<string>()),
                Is.EqualTo(new[] { "system", "user", "assistant", "tool", "user" }));
            var call = messages[2]!["tool_calls"]![0]!;
            Assert.That((call["id"]!.GetValue<string>(), call["type"]!.GetValue<string>(),
                    call["function"]!["name"]!.GetValue<string>(), call["function"]!["arguments"]!.GetValue<string>()),
                Is.EqualTo(("call_0", "function", "get_weather", """{"city":"Rome"}""")));
            Assert.That(messages[3]!["tool_call_id"]!.GetValue<string>(), Is.EqualTo("call_0"));
            Assert.That(messages[3]!["content"]!.GetValue<string>(), Is.EqualTo("sunny"));
        });
    }

    [Test]
    public async Task Generate_WithoutTools_SendsNoToolFields()
    {
        await using var server = Start();
        using var engine = Engine(server.BaseUrl);

        await CollectAsync(engine, Request("tiny"));

        var body = server.Completions.Single().Json.AsObject();
        Assert.That(new[] { "tools", "tool_choice", "parallel_tool_calls" }.Where(body.ContainsKey), Is.Empty);
    }

    [Test]
    public async Task Generate_AToolCallWithABadName_FailsSayingSo_WithoutTheArguments()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteStreamAsync(
            [ToolCallChunk(0, "call_a", "get weather!", """{"secret":"lizard"}""", finish: "tool_calls"), Usage(3, 2)]);
        using var engine = Engine(server.BaseUrl);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request("tiny")));

        Assert.That(error!.Message, Does.Contain("tool call").And.Not.Contain("lizard"));
    }

    [Test]
    public async Task Health_SaysEveryModelTakesTools()
    {
        await using var server = Start();
        server.Respond = exchange => exchange.WriteJsonAsync(200, """{"object":"list","data":[{"id":"upstream/tiny:q4","object":"model"}]}""");
        using var engine = Engine(server.BaseUrl);

        var health = await engine.CheckHealthAsync(CancellationToken.None);

        Assert.That((health.Ready, health.TakesTools), Is.EqualTo((true, true)));
    }
}
