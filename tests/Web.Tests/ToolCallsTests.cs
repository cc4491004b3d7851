using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Domain.Messages;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// A chat an OpenAI client held with tools (the model asked for a call, the client sent its result) shows in the web
/// app: each call and each result as a block folded under a one-line summary, opened on a click.
/// </summary>
[Parallelizable(ParallelScope.None)]
public sealed class ToolCallsTests : BrowserFixture
{
    [Test]
    public async Task AnAnswersToolCalls_AndTheirResults_ShowAsFoldedBlocks()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();
        Engine.Health = Engine.Health with { TakesTools = true };
        Engine.Calls = r => r.Turns[^1].Role == MessageRole.User
            ? [ToolCall.Create("call_1", "get_weather", """{"city":"Oslo"}""")]
            : null;
        Engine.Reply = r => r.Turns[^1].Role == MessageRole.Tool ? "It is **sunny**." : "";
        try
        {
            using var api = Host.NewClient();
            await api.SignInAsync(username, ChatPage.Password);
            var key = (await ApiClient.ReadAsync(await api.PostAsync("api/v1/auth/api-keys", new { name = "agent" })))
                .GetProperty("key").GetString()!;
            api.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            await Host.WaitForHostsAsync(hosts => hosts.Any(h => h.TakesTools), "the host takes tools");
            var tools = new[] { new { type = "function", function = new { name = "get_weather", parameters = new { type = "object" } } } };
            var question = new { role = "user", content = "Weather in Oslo?" };
            var first = await CompleteAsync(api, new { model = "default", tools, messages = new object[] { question } });
            var asked = first.GetProperty("choices")[0].GetProperty("message");
            await CompleteAsync(api, new
            {
                model = "default",
                tools,
                messages = new object[]
                {
                    question, JsonSerializer.Deserialize<object>(asked.GetRawText())!,
                    new { role = "tool", tool_call_id = "call_1", content = """{"sky":"sunny","wind":3}""" },
                },
            });

            await chat.Page.ReloadAsync();
            await chat.Page.Locator("#chat-list .chat-open").First.ClickAsync();

            var call = chat.Messages.Locator("details.tool-call");
            var result = chat.Messages.Locator("article.msg.tool details.tool-result");
            await Expect(call.Locator("summary")).ToHaveTextAsync("Called get_weather");
            await Expect(result.Locator("summary")).ToHaveTextAsync("Result of get_weather");
            await Expect(chat.Answers.Last.Locator("strong")).ToHaveTextAsync("sunny");
            await Expect(call.Locator("pre")).Not.ToBeVisibleAsync();
            await call.Locator("summary").ClickAsync();
            await Expect(call.Locator("pre")).ToBeVisibleAsync();
            await Expect(call.Locator("pre")).ToContainTextAsync("\"city\": \"Oslo\"");
            await result.Locator("summary").ClickAsync();
            await Expect(result.Locator("pre")).ToContainTextAsync("\"wind\": 3");
            await chat.ScreenshotAsync("tool-calls");
        }
        finally
        {
            Engine.Calls = null;
            Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
        }
    }

    private static async Task<JsonElement> CompleteAsync(ApiClient api, object body)
    {
        var response = await api.Http.PostAsync("v1/chat/completions",
            new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
        return await ApiClient.ReadAsync(response);
    }
}
