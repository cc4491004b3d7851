using System.Net;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Function calling through <c>/v1</c>: the tools reach the model host, its tool calls come back in OpenAI's shapes
/// (whole and streamed), the caller's results continue the same chat, and a model that takes no tools is refused before
/// anything is stored.
/// </summary>
public sealed partial class OpenAiApiTests
{
    private static readonly object[] WeatherTools =
    [
        new
        {
            type = "function",
            function = new
            {
                name = "get_weather",
                description = "The weather in a city",
                parameters = new { type = "object", properties = new { city = new { type = "string" } }, required = new[] { "city" } },
            },
        },
    ];

    private void CallTheWeatherToolOnce() => Host.Engine.Calls = request =>
        request.Extras?.Tools is not null && request.Turns[^1].Role == MessageRole.User
            ? [ToolCall.Create("call_w1", "get_weather", """{"city":"Oslo"}"""), ToolCall.Create("call_w2", "get_weather", """{"city":"Rome"}""")]
            : null;

    [Test]
    public async Task Tools_TheModelsCallsComeBack_AndTheResultsContinueTheSameChat()
    {
        await ToolsTakenAsync(true);
        var (client, _) = await KeyClientAsync();
        CallTheWeatherToolOnce();
        Host.Engine.Reply = r => r.Turns[^1].Role == MessageRole.Tool
            ? $"It is {string.Join(" and ", r.Turns.Where(t => t.Role == MessageRole.Tool).Select(t => t.Content))}"
            : "";
        var question = new { role = "user", content = "Weather in Oslo and Rome?" };

        var first = await ToolCompletionAsync(client, [question], new { tools = WeatherTools, tool_choice = "auto", parallel_tool_calls = true });

        var choice = first.GetProperty("choices")[0];
        Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("tool_calls"));
        var message = choice.GetProperty("message");
        Assert.That(message.GetProperty("content").ValueKind, Is.EqualTo(JsonValueKind.Null));
        var calls = message.GetProperty("tool_calls");
        Assert.That(calls.EnumerateArray().Select(c => (c.GetProperty("id").GetString(), c.GetProperty("type").GetString(),
                c.GetProperty("function").GetProperty("name").GetString(), c.GetProperty("function").GetProperty("arguments").GetString())),
            Is.EqualTo(new[]
            {
                ("call_w1", "function", "get_weather", """{"city":"Oslo"}"""),
                ("call_w2", "function", "get_weather", """{"city":"Rome"}"""),
            }));
        var asked = Host.Engine.Requests[^1];
        Assert.That(JsonDocument.Parse(asked.Extras!.Tools!).RootElement[0].GetProperty("function").GetProperty("name").GetString(),
            Is.EqualTo("get_weather"));
        Assert.That((asked.Extras.ToolChoice, asked.Extras.ParallelToolCalls), Is.EqualTo(("\"auto\"", (bool?)true)));

        // The client sends the whole conversation again, the answer as the SDK gave it back, and the two results.
        var second = await ToolCompletionAsync(client,
        [
            question,
            JsonSerializer.Deserialize<object>(message.GetRawText())!,
            new { role = "tool", tool_call_id = "call_w1", content = "sunny" },
            new { role = "tool", tool_call_id = "call_w2", content = "raining" },
        ], new { tools = WeatherTools });

        Assert.That(second.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(),
            Is.EqualTo("It is sunny and raining"));
        Assert.That(second.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        var turns = Host.Engine.Requests[^1].Turns;
        Assert.That(turns.Select(t => (t.Role, t.ToolCallId, t.ToolCalls?.Count ?? 0)), Is.EqualTo(new[]
        {
            (MessageRole.User, (string?)null, 0), (MessageRole.Assistant, null, 2), (MessageRole.Tool, "call_w1", 0),
            (MessageRole.Tool, "call_w2", 0),
        }));
        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1), "the results went on in the chat of the calls");
        Assert.That(chats[0].GetProperty("title").GetString(), Is.EqualTo("Weather in Oslo and Rome?"));
        var stored = (await ApiClient.ReadAsync(
            await client.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"))).GetProperty("messages");
        Assert.That(stored.EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())),
            Is.EqualTo(new[]
            {
                ("user", "Weather in Oslo and Rome?"), ("assistant", ""), ("tool", "sunny"), ("tool", "raining"),
                ("assistant", "It is sunny and raining"),
            }));
        Assert.That(stored[1].GetProperty("finishReason").GetString(), Is.EqualTo("tool_calls"));
        Assert.That(stored[1].GetProperty("toolCalls").EnumerateArray().Select(c => c.GetProperty("id").GetString()),
            Is.EqualTo(new[] { "call_w1", "call_w2" }));
        Assert.That(stored[3].GetProperty("toolCallId").GetString(), Is.EqualTo("call_w2"));
    }

    [Test]
    public async Task Tools_Streamed_TheCallsComeAsOneDeltaByIndex_ThenTheToolCallsFinish()
    {
        await ToolsTakenAsync(true);
        var (client, _) = await KeyClientAsync();
        CallTheWeatherToolOnce();
        Host.Engine.Reply = _ => "Let me look.";

        var events = await StreamAsync(client, new
        {
            model = "default",
            stream = true,
            messages = new object[] { new { role = "user", content = "Weather?" } },
            tools = WeatherTools,
        });

        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.That(StreamedText(chunks), Is.EqualTo("Let me look."));
        var withCalls = chunks.Where(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("tool_calls", out _)).ToList();
        Assert.That(withCalls, Has.Count.EqualTo(1));
        var deltas = withCalls[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls");
        Assert.That(deltas.EnumerateArray().Select(d => (d.GetProperty("index").GetInt32(), d.GetProperty("id").GetString(),
                d.GetProperty("function").GetProperty("name").GetString(), d.GetProperty("function").GetProperty("arguments").GetString())),
            Is.EqualTo(new[] { (0, "call_w1", "get_weather", """{"city":"Oslo"}"""), (1, "call_w2", "get_weather", """{"city":"Rome"}""") }));
        Assert.That(chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("tool_calls"));
    }

    [Test]
    public async Task Tools_ForAModelThatTakesNone_Are400NamingTools_AndStoreNothing()
    {
        await ToolsTakenAsync(false);
        try
        {
            var (client, _) = await KeyClientAsync();

            var response = await client.Http.PostAsync("v1/chat/completions", new StringContent(JsonSerializer.Serialize(new
            {
                model = "default",
                messages = new object[] { new { role = "user", content = "Weather?" } },
                tools = WeatherTools,
            }), Encoding.UTF8, "application/json"));

            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
            Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("tools"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("does not take tools"));
            Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
        }
        finally
        {
            await ToolsTakenAsync(true);
        }
    }

    /// <summary>The scripted host says whether its model takes tools, and the API has heard it.</summary>
    private async Task ToolsTakenAsync(bool taken)
    {
        Host.Engine.Health = Host.Engine.Health with { TakesTools = taken };
        await Host.WaitForHostsAsync(hosts => hosts.All(h => h.TakesTools == taken),
            taken ? "the host takes tools" : "the host takes no tools");
    }

    [TestCase(false, TestName = "Regenerating_AQuestionAskedWithTools_AsksItAgainWithThem_AndItsOtherOptions")]
    [TestCase(true, TestName = "EditingAQuestionAskedWithTools_AsksItAgainWithThem_AndItsOtherOptions")]
    public async Task AskingAgain_AQuestionAskedWithTools_AsksItAsItWasAsked(bool edit)
    {
        var (client, _) = await KeyClientAsync();
        await ToolCompletionAsync(client, [new { role = "user", content = "What is the weather?" }],
            new { tools = WeatherTools, stop = new[] { "END" }, seed = 7 });
        var chat = (await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions")))[0].GetProperty("id").GetString();

        // As the web app asks again: with nothing but the chat (and the new words).
        var again = edit
            ? await client.Http.PostAsync($"api/v1/sessions/{chat}/edit-last?wait=true",
                new StringContent("""{"content":"And tomorrow?"}""", Encoding.UTF8, "application/json"))
            : await client.PostAsync($"api/v1/sessions/{chat}/regenerate?wait=true", null);

        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.OK), await again.Content.ReadAsStringAsync());
        var asked = Host.Engine.Requests[^1];
        Assert.Multiple(() =>
        {
            Assert.That(asked.Turns[^1].Content, Is.EqualTo(edit ? "And tomorrow?" : "What is the weather?"));
            Assert.That(asked.Extras?.Tools, Does.Contain("get_weather"), "the tools it was asked with");
            Assert.That(asked.Extras?.Stop, Is.EqualTo(new[] { "END" }));
            Assert.That(asked.Extras?.Seed, Is.EqualTo(7));
        });
    }

    private static async Task<JsonElement> ToolCompletionAsync(ApiClient client, object[] messages, object tools)
    {
        var body = JsonSerializer.SerializeToNode(tools)!.AsObject();
        body["model"] = "default";
        body["messages"] = JsonSerializer.SerializeToNode(messages);
        var response = await client.Http.PostAsync("v1/chat/completions",
            new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ApiClient.ReadAsync(response);
    }
}
