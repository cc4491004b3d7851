using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Logging:Format=json at Debug level through a whole chat (API, in-process relay, worker): every line the console
/// gets is one JSON object, none holds the prompt, the reply, a password, a token, an API key or the relay key, and
/// every line about the message carries its trace id. Alone: it reads the process's console.
/// </summary>
[NonParallelizable]
public sealed class JsonLogsApiTests
{
    private const string TraceId = "0af7651916cd43dd8448eb211c80319c";
    private const string TraceParent = $"00-{TraceId}-b7ad6b7169203331-01";
    private const string Password = "orchid-ladder-7394-quartz";
    private const string Prompt = "Which marmot guards the saffron vault?";
    private const string Reply = "The velvet marmot with the copper bell.";

    // 32 bytes, base64: the relay key both ends use.
    private static readonly string RelayKey = Convert.ToBase64String([.. Enumerable.Range(0, 32).Select(i => (byte)(200 - i))]);

    [Test]
    public async Task AChat_LogsOnlyJsonLines_WithNoSecretOrChatText_AndTheMessagesTraceOnItsLines()
    {
        var captured = new StringWriter();
        var console = Console.Out;
        Console.SetOut(TextWriter.Synchronized(captured));
        string apiKey, accessToken;
        Guid requestId;
        try
        {
            var host = await new ApiHost(new Dictionary<string, string?>
            {
                ["Logging:Format"] = "json",
                ["Logging:LogLevel:Default"] = "Debug",
                ["Logging:LogLevel:Microsoft"] = "Debug",
                ["Relay:Keys:0:Id"] = "7",
                ["Relay:Keys:0:Key"] = RelayKey,
                ["Relay:ActiveKeyId"] = "7",
                ["Tracing:TrustClientTraceparent"] = "true", // the lines carry the trace the test sent
            }).StartAsync();
            await using (host)
            {
                host.Engine.Reply = _ => Reply;
                using var owner = host.NewClient();
                await owner.SignUpAsync(password: Password);
                accessToken = owner.AccessToken!;
                apiKey = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "logs" })))
                    .GetProperty("key").GetString()!;
                using var script = host.NewClient();
                script.UseBearer(apiKey);
                var chat = await script.CreateSessionAsync();

                using var send = new HttpRequestMessage(HttpMethod.Post, $"api/v1/sessions/{chat}/send")
                {
                    Content = JsonContent.Create(new { content = Prompt }),
                };
                send.Headers.TryAddWithoutValidation("traceparent", TraceParent);
                var response = await script.Http.SendAsync(send);
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
                requestId = (await ApiClient.ReadAsync(response)).GetProperty("requestId").GetGuid();
                var messages = await ChatApiTests.WaitForMessagesAsync(script, chat, 2);
                Assert.That(messages[1].GetProperty("content").GetString(), Is.EqualTo(Reply));
            }
        }
        finally
        {
            Console.SetOut(console);
        }

        var lines = captured.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(lines, Has.Length.GreaterThan(20), "a chat at Debug level logs plenty");
        var aboutTheMessage = 0;
        foreach (var line in lines)
        {
            using var entry = ParseOrFail(line);
            Assert.That(entry.RootElement.GetProperty("LogLevel").GetString(), Is.Not.Null.And.Not.Empty, line);
            foreach (var (secret, what) in new[]
                     {
                         (Prompt, "the prompt"), (Reply, "the reply"), (Password, "the password"), (apiKey, "the API key"),
                         (accessToken, "the access token"), (RelayKey, "the relay key"),
                         (Convert.ToHexString(Convert.FromBase64String(RelayKey)), "the relay key (hex)"),
                     })
            {
                Assert.That(line, Does.Not.Contain(secret).IgnoreCase, $"a log line holds {what}: {line}");
            }

            if (line.Contains(requestId.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                aboutTheMessage++;
                Assert.That(line, Does.Contain(TraceId), $"a line about the message without its trace id: {line}");
            }
        }

        Assert.That(aboutTheMessage, Is.GreaterThanOrEqualTo(2), "the send's and the answer's lines name the request");
    }

    private static JsonDocument ParseOrFail(string line)
    {
        try
        {
            var document = JsonDocument.Parse(line);
            Assert.That(document.RootElement.ValueKind, Is.EqualTo(JsonValueKind.Object), line);
            return document;
        }
        catch (JsonException ex)
        {
            Assert.Fail($"not a JSON line ({ex.Message}): {line}");
            throw;
        }
    }
}
