using System.Net;
using System.Text;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class SessionApiTests(string storage) : ApiHostFixture(storage)
{
    [Test]
    public async Task Create_Returns201WithSettings_AndListShowsNewestFirst()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var first = await client.PostAsync("api/v1/sessions", new { title = "first" });
        var second = await client.PostAsync("api/v1/sessions",
            new { title = "second", model = "llama-3.1-8b", systemPrompt = "Be brief.", temperature = 0.3 });

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var created = await ApiClient.ReadAsync(second);
        Assert.That(created.GetProperty("model").GetString(), Is.EqualTo("llama-3.1-8b"));
        Assert.That(created.GetProperty("systemPrompt").GetString(), Is.EqualTo("Be brief."));
        Assert.That(created.GetProperty("temperature").GetDouble(), Is.EqualTo(0.3));
        Assert.That(created.GetProperty("status").GetString(), Is.EqualTo("active"));
        var list = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(list.EnumerateArray().Select(s => s.GetProperty("title").GetString()), Is.EqualTo(new[] { "second", "first" }));
    }

    [Test]
    public async Task Create_WithoutBody_StartsADefaultChat()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var response = await client.Http.PostAsync("api/v1/sessions", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("title").GetString(), Is.EqualTo("New chat"));
    }

    [Test]
    public async Task Patch_RenamesAndChangesSettings()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PatchAsync($"api/v1/sessions/{id}", new { title = "renamed", maxTokens = 64 });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var session = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}"));
        Assert.That(session.GetProperty("title").GetString(), Is.EqualTo("renamed"));
        Assert.That(session.GetProperty("maxTokens").GetInt32(), Is.EqualTo(64));
    }

    [Test]
    public async Task Patch_WithOutOfRangeTemperature_Returns400NamingTemperature()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PatchAsync($"api/v1/sessions/{id}", new { temperature = 7.5 });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("temperature", out _), Is.True);
    }

    [Test]
    public async Task FirstMessage_NamesAnUntitledChat_ButNotANamedOne()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var untitled = (await ApiClient.ReadAsync(await client.Http.PostAsync("api/v1/sessions", null))).GetProperty("id").GetGuid();
        var named = await client.CreateSessionAsync(new { title = "Trip plans" });

        (await client.PostAsync($"api/v1/sessions/{untitled}/send", new { content = "What do   desert lizards\neat?" }))
            .EnsureSuccessStatusCode();
        (await client.PostAsync($"api/v1/sessions/{named}/send", new { content = "What do desert lizards eat?" }))
            .EnsureSuccessStatusCode();

        async Task<string?> TitleAsync(Guid id) =>
            (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}"))).GetProperty("title").GetString();
        Assert.That(await TitleAsync(untitled), Is.EqualTo("What do desert lizards eat?"));
        Assert.That(await TitleAsync(named), Is.EqualTo("Trip plans"));
    }

    [Test]
    public async Task Delete_ClosesTheSession_AndAClosedSessionRefusesMessagesWith409()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var deleted = await client.DeleteAsync($"api/v1/sessions/{id}");
        var send = await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "hello?" });

        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK), "closing stores the transcript and answers its links");
        Assert.That((await ApiClient.ReadAsync(deleted)).GetProperty("transcript").GetProperty("sessionId").GetGuid(),
            Is.EqualTo(id));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}"))).GetProperty("status").GetString(),
            Is.EqualTo("closed"));
        Assert.That(send.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ApiClient.ReadAsync(send)).GetProperty("detail").GetString(), Does.Contain("closed"));
    }

    [Test]
    public async Task AnotherUsersSession_IsNotFound_ForEveryCall()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var id = await owner.CreateSessionAsync();
        using var stranger = Host.NewClient();
        await stranger.SignUpAsync();

        var calls = new[]
        {
            await stranger.GetAsync($"api/v1/sessions/{id}"),
            await stranger.PatchAsync($"api/v1/sessions/{id}", new { title = "mine now" }),
            await stranger.PostAsync($"api/v1/sessions/{id}/send", new { content = "hi" }),
            await stranger.PostAsync($"api/v1/sessions/{id}/cancel", null),
            await stranger.GetAsync($"api/v1/sessions/{id}/messages"),
            await stranger.GetAsync($"api/v1/sessions/{id}/transcript"),
            await stranger.DeleteAsync($"api/v1/sessions/{id}"),
        };

        Assert.That(calls.Select(c => c.StatusCode), Is.All.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{id}"))).GetProperty("title").GetString(),
            Is.EqualTo("test chat"));
    }

    [Test]
    public async Task MalformedIdOrUnknownSession_Returns404Problem()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var malformed = await client.GetAsync("api/v1/sessions/not-a-guid");
        var unknown = await client.GetAsync($"api/v1/sessions/{Guid.NewGuid()}");

        Assert.That(malformed.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(unknown.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }

    [Test]
    public async Task MalformedJson_Returns400Problem_AndWritesNothing()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var response = await client.Http.PostAsync("api/v1/sessions",
            new StringContent("{\"title\": \"unterminated", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var list = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(list.GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task FieldOfTheWrongType_Returns400NamingTheField()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var response = await client.Http.PostAsync("api/v1/sessions",
            new StringContent("{\"title\": \"ok\", \"temperature\": \"hot\"}", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("temperature", out _), Is.True);
    }

    [Test]
    public async Task OversizedBody_Returns413Problem()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/send", new { content = new string('x', 400_000) });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
    }
}
