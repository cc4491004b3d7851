using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.OpenAi.Commands;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The OpenAI-compatible API (<c>/v1</c>) over HTTP with the scripted engine as the model host, on both databases: the
/// objects and errors as OpenAI documents them, and the chats the completions are stored in. The fixture, its helpers and
/// the plain completion are here; streams, conversations and refusals each in a file of their own.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed partial class OpenAiApiTests(string storage) : ApiHostFixture(storage)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Api:OpenAi:KeepAliveInterval"] = "00:00:00.200",
        // The embedded default, not the test hosts' 20 ms: how streams are cut is part of what is judged here.
        ["Relay:PartialInterval"] = null,
    };

    [SetUp]
    public void ResetEngine()
    {
        Host.Engine.DelayBetweenWords = TimeSpan.Zero;
        Host.Engine.FailWith = null;
        Host.Engine.Hang = false;
        Host.Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
        Host.Engine.FinishReason = null;
        Host.Engine.LoseEngineAfterWords = null;
        Host.Engine.Continues = true;
        Host.Engine.Calls = null;
    }

    [Test]
    public async Task Models_ListsTheDefaultModel_AndAnUnknownOneIs404InOpenAisShape()
    {
        var (client, _) = await KeyClientAsync();

        var list = await ApiClient.ReadAsync(await client.GetAsync("v1/models"));
        Assert.That(list.GetProperty("object").GetString(), Is.EqualTo("list"));
        Assert.That(list.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()),
            Does.Contain("default"));
        Assert.That(list.GetProperty("data")[0].GetProperty("object").GetString(), Is.EqualTo("model"));

        var one = await client.GetAsync("v1/models/default");
        Assert.That(one.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var missing = await client.GetAsync("v1/models/gpt-4o");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var error = (await ApiClient.ReadAsync(missing)).GetProperty("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("model_not_found"));
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("model"));
    }

    [Test]
    public async Task Completion_AnswersAsChatCompletion_WithUsage_AndIsStoredAsAChat()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = new object[]
            {
                new { role = "system", content = "You are terse." },
                new { role = "user", content = new object[] { new { type = "text", text = "hello " }, new { type = "text", text = "there" } } },
            },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var completion = await ApiClient.ReadAsync(response);
        Assert.That(completion.GetProperty("object").GetString(), Is.EqualTo("chat.completion"));
        Assert.That(completion.GetProperty("id").GetString(), Does.StartWith("chatcmpl-"));
        Assert.That(completion.GetProperty("model").GetString(), Is.EqualTo("default"));
        var choice = completion.GetProperty("choices")[0];
        Assert.That(choice.GetProperty("message").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(choice.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("You said: hello there"));
        Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        var usage = completion.GetProperty("usage");
        Assert.That(usage.GetProperty("completion_tokens").GetInt32(), Is.EqualTo(4));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(),
            Is.EqualTo(usage.GetProperty("prompt_tokens").GetInt32() + 4));
        Assert.That(Host.Engine.Requests[^1].SystemPrompt, Is.EqualTo("You are terse."));

        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1));
        Assert.That(chats[0].GetProperty("title").GetString(), Is.EqualTo("hello there"));
        Assert.That(chats[0].GetProperty("model").GetString(), Is.EqualTo("default"));
    }

    private Task<(ApiClient Client, string Key)> KeyClientAsync() => KeyClientAsync(Host);

    /// <summary>A client with a fresh user's API key as its bearer credential, as the OpenAI SDKs send it.</summary>
    internal static async Task<(ApiClient Client, string Key)> KeyClientAsync(ApiHost host)
    {
        using var owner = host.NewClient();
        await owner.SignUpAsync();
        var key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" })))
            .GetProperty("key").GetString()!;
        var client = host.NewClient();
        client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return (client, key);
    }

    private static async Task<JsonElement> CompleteAsync(ApiClient client, object[] messages, int? maxTokens = null)
    {
        var response = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages, max_tokens = maxTokens });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ApiClient.ReadAsync(response);
    }

    /// <summary>The data of every event of a streamed completion, in order.</summary>
    private static async Task<List<string>> StreamAsync(ApiClient client, object body, string path = "v1/chat/completions")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent(body) };
        using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var data = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Add(line["data: ".Length..]);
            }
        }

        return data;
    }

    private static StringContent JsonContent(object body) =>
        new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}
