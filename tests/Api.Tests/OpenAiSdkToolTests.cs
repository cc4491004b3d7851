using System.Text.Json;
using System.Text.Json.Nodes;
using MeatLizard.Api.Tests.Support;
using static MeatLizard.TestKit.LoopbackChatServer;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The official <c>openai</c> SDK's tool runner (<c>runTools</c>) against <c>/v1</c>, whose model host answers from a
/// scripted OpenAI-compatible upstream: the upstream calls the tool when asked a question and answers from the tool's
/// result when given one, so the whole round trip — tools out to the upstream, the call back to the SDK, the SDK's
/// function run, its result back through the relay — is the real path, whole and streamed.
/// </summary>
[NonParallelizable]
public sealed class OpenAiSdkToolTests
{
    private LoopbackChatServer _upstream = null!;
    private ApiHost _host = null!;
    private string _key = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = Start();
        _upstream.Respond = RespondAsync;
        (_host, _key) = await UpstreamHost.StartAsync(_upstream, new Dictionary<string, string?>
        {
            ["Inference:OpenAiCompatible:Models:0"] = "weather",
            ["Inference:DefaultModel"] = "weather",
        }, h => h.TakesTools, "the model host is online, taking tools");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task RunTools_CallsTheFunction_AndAnswersFromItsResult(bool streamed)
    {
        var seen = await OpenAiSdkClient.RunAsync("tools", _host.BaseAddress, _key,
            environment: new Dictionary<string, string> { ["STREAM"] = streamed ? "1" : "0", ["MODEL"] = "weather" });

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(seen.GetProperty("content").GetString(), Is.EqualTo("In Oslo the sky is clear."));
            Assert.That(seen.GetProperty("calls").EnumerateArray().Select(c => c.GetProperty("city").GetString()),
                Is.EqualTo(new[] { "Oslo" }), "the SDK ran the function once, with the arguments the model wrote");
            Assert.That(seen.GetProperty("roles").EnumerateArray().Select(r => r.GetString()),
                Is.EqualTo(new[] { "user", "assistant", "tool", "assistant" }));
            Assert.That(seen.GetProperty("toolCallIds").EnumerateArray().Select(i => i.GetString()), Is.EqualTo(new[] { "call_oslo" }));
            Assert.That(seen.GetProperty("finishes").EnumerateArray().Select(f => f.GetString()),
                Is.EqualTo(new[] { "tool_calls", "stop" }));
        });
        // What reached the upstream: the tools both times, then the call and the SDK's result in the conversation.
        var last = _upstream.Completions.Last().Json;
        Assert.That(last["tools"]![0]!["function"]!["name"]!.GetValue<string>(), Is.EqualTo("get_weather"));
        var messages = last["messages"]!.AsArray();
        Assert.That(messages[^2]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>(), Is.EqualTo("""{"city":"Oslo"}"""));
        Assert.That((messages[^1]!["role"]!.GetValue<string>(), messages[^1]!["tool_call_id"]!.GetValue<string>()),
            Is.EqualTo(("tool", "call_oslo")));
        Assert.That(JsonNode.Parse(messages[^1]!["content"]!.GetValue<string>())!["sky"]!.GetValue<string>(), Is.EqualTo("clear"));
    }

    /// <summary>
    /// The scripted model: asked a question, it calls <c>get_weather</c> (its arguments in three pieces); given the
    /// tool's result, it answers from it.
    /// </summary>
    private static Task RespondAsync(Exchange exchange)
    {
        if (exchange.Path == "/v1/models")
        {
            return exchange.WriteJsonAsync(200, """{"object":"list","data":[{"id":"weather","object":"model"}]}""");
        }

        var last = exchange.Json["messages"]!.AsArray()[^1]!;
        if (last["role"]!.GetValue<string>() == "tool")
        {
            var result = JsonNode.Parse(last["content"]!.GetValue<string>())!;
            return exchange.WriteStreamAsync(
            [
                Chunk($"In {result["city"]!.GetValue<string>()}"),
                Chunk($" the sky is {result["sky"]!.GetValue<string>()}.", finish: "stop"),
                Usage(40, 8),
            ]);
        }

        return exchange.WriteStreamAsync(
        [
            ToolCallChunk(0, "call_oslo", "get_weather", ""),
            ToolCallChunk(0, null, null, """{"city":"""),
            ToolCallChunk(0, null, null, "\"Oslo\"}", finish: "tool_calls"),
            Usage(30, 9),
        ]);
    }
}
