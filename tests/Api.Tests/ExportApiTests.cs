using System.Net;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>A user's export of all their data: one JSON file, theirs alone, with no secret in it.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ExportApiTests(string storage) : ApiHostFixture(storage)
{
    [Test]
    public async Task Export_HoldsTheAccount_ItsKeysAndEveryChatWithItsMessages_AndNothingOfAnyoneElse()
    {
        using var other = Host.NewClient();
        await other.SignUpAsync();
        var theirs = await other.CreateSessionAsync(new { title = "not yours" });
        await other.PostAsync($"api/v1/sessions/{theirs}/send?wait=true", new { content = "a secret of theirs" });

        using var client = Host.NewClient();
        var username = await client.SignUpAsync();
        await client.PostAsync("api/v1/auth/api-keys", new { name = "laptop script" });
        var first = await client.CreateSessionAsync(new { title = "first chat", systemPrompt = "Be brief." });
        Assert.That((await client.PostAsync($"api/v1/sessions/{first}/send?wait=true", new { content = "Why is the sky blue?" })).StatusCode,
            Is.EqualTo(HttpStatusCode.OK));
        var second = await client.CreateSessionAsync(new { title = "second chat" });
        await client.PostAsync($"api/v1/sessions/{second}/send?wait=true", new { content = "ünïcödé \"quoted\" 🦎" });
        Assert.That((await client.DeleteAsync($"api/v1/sessions/{second}")).StatusCode, Is.EqualTo(HttpStatusCode.OK),
            "a closed chat is the user's data too");

        var response = await client.GetAsync("api/v1/auth/export");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentDisposition?.DispositionType, Is.EqualTo("attachment"));
        Assert.That(response.Content.Headers.ContentDisposition?.FileName?.Trim('"'), Does.StartWith($"meatlizard-{username}-").And.EndWith(".json"));
        var text = await response.Content.ReadAsStringAsync();
        var export = System.Text.Json.JsonDocument.Parse(text).RootElement;
        Assert.That(export.GetProperty("account").GetProperty("username").GetString(), Is.EqualTo(username));
        Assert.That(export.GetProperty("apiKeys").EnumerateArray().Select(k => k.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "laptop script" }));
        var chats = export.GetProperty("chats").EnumerateArray().ToList();
        Assert.That(chats.Select(c => c.GetProperty("chat").GetProperty("title").GetString()), Is.EqualTo(new[] { "first chat", "second chat" }));
        Assert.That(chats[0].GetProperty("chat").GetProperty("systemPrompt").GetString(), Is.EqualTo("Be brief."));
        Assert.That(chats[0].GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()),
            Is.EqualTo(new[] { "user", "assistant" }));
        Assert.That(chats[0].GetProperty("messages")[0].GetProperty("content").GetString(), Is.EqualTo("Why is the sky blue?"));
        Assert.That(chats[1].GetProperty("chat").GetProperty("status").GetString(), Is.EqualTo("closed"));
        Assert.That(chats[1].GetProperty("messages")[0].GetProperty("content").GetString(), Is.EqualTo("ünïcödé \"quoted\" 🦎"));
        Assert.That(text, Does.Not.Contain("a secret of theirs").And.Not.Contain("not yours"));
        Assert.That(text, Does.Not.Contain("securityStamp").IgnoreCase.And.Not.Contain("passwordHash").IgnoreCase.And.Not.Contain("ml_"),
            "no credential of any kind");
    }

    [Test]
    public async Task Export_WithoutASignIn_Is401()
    {
        using var anonymous = Host.NewClient();

        Assert.That((await anonymous.GetAsync("api/v1/auth/export")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }
}
