using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Awkward text at the API's edge, the same on every database: what a person may type is stored and read back exactly;
/// control characters (but tab, newline and carriage return) and broken UTF-16 are refused with a 400 naming the field
/// — PostgreSQL's <c>text</c> refuses NUL where SQLite keeps it, so without the check the same input was a 500 on one
/// and stored on the other. Model output is cleaned instead of refused.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
[Parallelizable(ParallelScope.Self)]
public sealed class TextHygieneApiTests(string storage)
{
    /// <summary>Text a person may type: each one is stored and read back exactly.</summary>
    private static readonly string[] Accepted =
    [
        "plain words",
        "tab\tnewline\ncarriage return\r\nend",
        "astral 🦎 emoji 👩🏽‍💻 and flags 🇳🇱",
        "combining e\u0301 and a\u0308 marks",
        "zero\u200Bwidth\u200Djoiners and \u202Ebidi\u202C marks \u200F",
        "line\u2028and paragraph\u2029separators",
        "replacement \uFFFD character",
        "quotes ' \" ` and backslashes \\ \\\\ and 100% _under_ %_",
        "'); DROP TABLE messages; --",
        "   leading and trailing spaces   ",
        new string('é', 90) + "🦎",
    ];

    /// <summary>Text no field stores: each one is refused with a 400 naming the field.</summary>
    private static readonly string[] Refused =
    [
        "nul \0 inside",
        "\0",
        "bell \a and escape \u001b[31m",
        "vertical \v tab and form \f feed",
        "delete \u007f",
        "c1 control \u0085 next line",
        "c1 control \u009b csi",
        "lone high \ud83e surrogate",
        "lone low \udd8e surrogate",
        "reversed pair \udd8e\ud83e",
        "ends with a high surrogate \ud83e",
    ];

    private ApiHost _host = null!;
    private ApiClient _client = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await new ApiHost(storage: storage).StartAsync();
        _client = _host.NewClient();
        await _client.SignUpAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [TestCaseSource(nameof(Accepted))]
    public async Task TextAPersonMayType_IsStoredAndReadBackExactly_InEveryField(string text)
    {
        var session = await PostRawAsync("api/v1/sessions", ("title", "hygiene"), ("systemPrompt", text));
        var id = (await ApiClient.ReadAsync(session)).GetProperty("id").GetString();
        var renamed = await SendRawAsync(HttpMethod.Patch, $"api/v1/sessions/{id}", ("title", text));
        var sent = await PostRawAsync($"api/v1/sessions/{id}/send?wait=true", ("content", text));
        var key = await PostRawAsync("api/v1/auth/api-keys", ("name", text));

        Assert.That(new[] { session.StatusCode, renamed.StatusCode, sent.StatusCode, key.StatusCode },
            Is.All.Matches<HttpStatusCode>(s => (int)s is >= 200 and < 300), await DescribeAsync(session, renamed, sent, key));
        var stored = await ApiClient.ReadAsync(await _client.GetAsync($"api/v1/sessions/{id}"));
        var messages = await ApiClient.ReadAsync(await _client.GetAsync($"api/v1/sessions/{id}/messages"));
        var keys = await ApiClient.ReadAsync(await _client.GetAsync("api/v1/auth/api-keys"));
        Assert.Multiple(() =>
        {
            Assert.That(stored.GetProperty("systemPrompt").GetString(), Is.EqualTo(text), "system prompt");
            Assert.That(stored.GetProperty("title").GetString(), Is.EqualTo(text.Trim()), "title (trimmed)");
            Assert.That(messages.GetProperty("messages")[0].GetProperty("content").GetString(), Is.EqualTo(text), "message");
            Assert.That(keys.EnumerateArray().Select(k => k.GetProperty("name").GetString()), Does.Contain(text.Trim()),
                "API key name (trimmed)");
        });
    }

    [TestCaseSource(nameof(Refused))]
    public async Task ControlCharactersAndBrokenUtf16_AreRefusedWith400NamingTheField_AndNothingIsStored(string text)
    {
        var id = await _client.CreateSessionAsync(new { title = "refusals" });

        var created = await PostRawAsync("api/v1/sessions", ("title", text));
        var prompted = await PostRawAsync("api/v1/sessions", ("title", "ok"), ("systemPrompt", text));
        var renamed = await SendRawAsync(HttpMethod.Patch, $"api/v1/sessions/{id}", ("title", text));
        var sent = await PostRawAsync($"api/v1/sessions/{id}/send", ("content", text));
        var key = await PostRawAsync("api/v1/auth/api-keys", ("name", text));

        Assert.Multiple(async () =>
        {
            await AssertRefusedAsync(created, "title");
            await AssertRefusedAsync(prompted, "systemPrompt");
            await AssertRefusedAsync(renamed, "title");
            await AssertRefusedAsync(sent, "content");
            await AssertRefusedAsync(key, "name");
        });
        var messages = await ApiClient.ReadAsync(await _client.GetAsync($"api/v1/sessions/{id}/messages"));
        Assert.That(messages.GetProperty("messages").GetArrayLength(), Is.Zero, "the refused message was not stored");
    }

    [Test]
    public async Task Nul_InAnyOtherTextField_IsAClientError_NeverAServerError()
    {
        // PostgreSQL's text holds no NUL, and a query given one as a value fails: each such field is checked before it
        // is stored or looked up. A field that is stored names itself in a 400.
        var chat = await _client.CreateSessionAsync(new { title = "nul" });
        var answer = await ApiClient.ReadAsync(
            await _client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "hello" }));
        var answerId = answer.GetProperty("id").GetString();
        using var anonymous = _host.NewClient();

        var stored = new (string Field, HttpResponseMessage Response)[]
        {
            ("name", await PostRawAsync("api/v1/folders", ("name", "nul \0 folder"))),
            ("comment", await SendRawAsync(HttpMethod.Put, $"api/v1/sessions/{chat}/messages/{answerId}/feedback",
                ("rating", "up"), ("comment", "nul \0 comment"))),
            ("systemPrompt", await SendRawAsync(HttpMethod.Put, "api/v1/auth/preferences", ("systemPrompt", "nul \0"))),
        };
        var admin = await _host.FirstAdminAsync();
        var adminSent = new[]
        {
            await admin.Http.PostAsync("api/v1/admin/hosts/tokens", Raw(("name", "nul \0 host"))),
            await admin.Http.PutAsync("api/v1/admin/settings/default-model", Raw(("model", "nul\0model"))),
            await admin.Http.PostAsync("api/v1/personas", Raw(("name", "persona"), ("systemPrompt", "nul \0 prompt"))),
        };
        var looked = new[]
        {
            await anonymous.Http.PostAsync("api/v1/auth/login", Raw(("username", "nul\0user"), ("password", "whatever-long"))),
            await anonymous.Http.PostAsync("api/v1/auth/register",
                Raw(("username", "nul\0user"), ("password", "a-long-enough-password"), ("inviteCode", "\0"))),
            await anonymous.Http.PostAsync("api/v1/auth/password-reset", Raw(("code", "\0code"), ("newPassword", "a-long-enough-password"))),
            await _client.GetAsync("api/v1/search?q=nul%00word"),
            await anonymous.GetAsync("api/v1/shared/nul%00token"),
        };

        Assert.Multiple(async () =>
        {
            foreach (var (field, response) in stored)
            {
                await AssertRefusedAsync(response, field);
            }

            foreach (var response in adminSent)
            {
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest),
                    $"{response.RequestMessage!.RequestUri}: {await response.Content.ReadAsStringAsync()}");
            }

            foreach (var response in looked)
            {
                Assert.That((int)response.StatusCode, Is.LessThan(500),
                    $"{response.RequestMessage!.RequestUri}: {await response.Content.ReadAsStringAsync()}");
            }
        });
    }

    [Test]
    public async Task ModelOutput_WithControlCharactersAndBrokenUtf16_IsStoredAndStreamedCleaned()
    {
        // The engine answers through the encrypted relay like any worker; its output is cleaned before it is stored,
        // so PostgreSQL stores the answer instead of refusing it (the answer was lost there, the chat blocked).
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        _host.Engine.Reply = request => request.Turns[^1].Content == "dirty"
            ? "nul\0 bell\a escape\u001b[0m tab\tnew\nline lone\ud83e 🦎 c1\u0085 done"
            : $"You said: {request.Turns[^1].Content}";

        var answer = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "dirty" });

        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), await answer.Content.ReadAsStringAsync());
        var message = await ApiClient.ReadAsync(answer);
        Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(message.GetProperty("content").GetString(),
            Is.EqualTo("nul bell escape[0m tab\tnew\nline lone\uFFFD 🦎 c1 done"));
        var stored = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages"));
        Assert.That(stored.GetProperty("messages")[1].GetProperty("content").GetString(),
            Is.EqualTo(message.GetProperty("content").GetString()));
        var next = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "again" });
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the chat takes the next message at once");
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), $"{field}: {body}");
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
            Assert.That(errors.EnumerateObject().Select(p => p.Name), Does.Contain(field), body);
        }
    }

    private static StringContent Raw(params (string Name, string Value)[] fields) =>
        new(RawJson(fields), Encoding.UTF8, "application/json");

    private Task<HttpResponseMessage> PostRawAsync(string path, params (string Name, string Value)[] fields) =>
        SendRawAsync(HttpMethod.Post, path, fields);

    /// <summary>
    /// The JSON body written by hand, every character outside printable ASCII as a \u escape: what any client may send,
    /// lone surrogates included (a serializer would refuse to write those).
    /// </summary>
    private Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, params (string Name, string Value)[] fields) =>
        _client.Http.SendAsync(new HttpRequestMessage(method, path) { Content = Raw(fields) });

    private static string RawJson((string Name, string Value)[] fields)
    {
        var json = new StringBuilder("{");
        foreach (var (name, value) in fields)
        {
            json.Append(json.Length > 1 ? "," : "").Append('"').Append(name).Append("\":\"");
            foreach (var c in value)
            {
                if (c is >= ' ' and < '\u007f' and not ('"' or '\\'))
                {
                    json.Append(c);
                }
                else
                {
                    json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                }
            }

            json.Append('"');
        }

        return json.Append('}').ToString();
    }

    private static async Task<string> DescribeAsync(params HttpResponseMessage[] responses)
    {
        var parts = new List<string>();
        foreach (var response in responses)
        {
            parts.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        return string.Join(" | ", parts);
    }
}
