using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>Thumbs up or down on answers: the chat owner's, changeable, stored with model and host, counted for admins.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class FeedbackApiTests(string storage) : ApiHostFixture(storage)
{
    /// <summary>The model the host serves, so its answers name it.</summary>
    protected override IDictionary<string, string?>? Settings =>
        new Dictionary<string, string?> { ["Inference:ModelName"] = "gecko-7b" };

    [Test]
    public async Task AnAnswer_IsRated_ThenChanged_WithItsModelAndHost_AndAdminsSeeItPerModel()
    {
        using var admin = await Host.AdminClientAsync();
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var (chat, answer) = await AnsweredChatAsync(owner);
        var before = await CountsAsync(admin);

        var up = await owner.PutAsync($"api/v1/sessions/{chat}/messages/{answer}/feedback", new { rating = "up" });
        var down = await owner.PutAsync($"api/v1/sessions/{chat}/messages/{answer}/feedback", new { rating = "down", comment = "  too short  " });

        Assert.That(up.StatusCode, Is.EqualTo(HttpStatusCode.OK), await up.Content.ReadAsStringAsync());
        var changed = await ApiClient.ReadAsync(down);
        var model = changed.GetProperty("model").GetString();
        var host = changed.GetProperty("host").GetString();
        Assert.That(model, Is.EqualTo("gecko-7b"), "the answer's model");
        Assert.That(host, Is.Not.Null.And.Not.Empty, "the host that ran it");
        var listed = (await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat}/feedback"))).EnumerateArray().ToArray();
        Assert.That(listed.Select(f => (f.GetProperty("messageId").GetGuid(), f.GetProperty("rating").GetString(), f.GetProperty("comment").GetString())),
            Is.EqualTo(new[] { (answer, "down", "too short") }), "one rating per answer, the latest");
        var after = await CountsAsync(admin);
        var key = (model, host);
        Assert.That(after.GetValueOrDefault(key).Down - before.GetValueOrDefault(key).Down, Is.EqualTo(1));
        Assert.That(after.GetValueOrDefault(key).Up - before.GetValueOrDefault(key).Up, Is.Zero, "changed, not added");
        Assert.That(after.GetValueOrDefault(key).Comments - before.GetValueOrDefault(key).Comments, Is.EqualTo(1));
    }

    [Test]
    public async Task ARating_IsWithdrawn_ByTheChatsOwnerAlone_AndWithdrawingNoneIsNoError()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var (chat, answer) = await AnsweredChatAsync(owner);
        using var other = Host.NewClient();
        await other.SignUpAsync();
        var feedback = $"api/v1/sessions/{chat}/messages/{answer}/feedback";
        await owner.PutAsync(feedback, new { rating = "up", comment = "nice" });

        var refused = await other.DeleteAsync(feedback);
        var kept = (await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat}/feedback"))).GetArrayLength();
        var withdrawn = await owner.DeleteAsync(feedback);
        var again = await owner.DeleteAsync(feedback);

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "another user's chat");
        Assert.That(kept, Is.EqualTo(1));
        Assert.That(withdrawn.StatusCode, Is.EqualTo(HttpStatusCode.NoContent), await withdrawn.Content.ReadAsStringAsync());
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat}/feedback"))).GetArrayLength(), Is.Zero,
            "the rating and its comment are gone");
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.NoContent), "an unrated answer stays unrated");
    }

    [Test]
    public async Task TheAdminCount_IsForAdminsOnly()
    {
        using var user = Host.NewClient();
        await user.SignUpAsync();

        Assert.That((await user.GetAsync("api/v1/admin/feedback")).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task AQuestion_AnotherUsersAnswer_AndBadInput_AreRefused()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var (chat, answer) = await AnsweredChatAsync(owner);
        var question = (await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages")[0].GetProperty("id").GetGuid();
        using var other = Host.NewClient();
        await other.SignUpAsync();

        Assert.That((await owner.PutAsync($"api/v1/sessions/{chat}/messages/{question}/feedback", new { rating = "up" })).StatusCode,
            Is.EqualTo(HttpStatusCode.NotFound), "a question is not an answer");
        Assert.That((await other.PutAsync($"api/v1/sessions/{chat}/messages/{answer}/feedback", new { rating = "up" })).StatusCode,
            Is.EqualTo(HttpStatusCode.NotFound));
        await AssertBadAsync(await owner.PutAsync($"api/v1/sessions/{chat}/messages/{answer}/feedback", new { rating = "meh" }), "rating");
        await AssertBadAsync(await owner.PutAsync($"api/v1/sessions/{chat}/messages/{answer}/feedback",
            new { rating = "up", comment = new string('x', 1001) }), "comment");
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat}/feedback"))).GetArrayLength(), Is.Zero);
    }

    private static async Task AssertBadAsync(HttpResponseMessage response, string field)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty(field, out _), Is.True);
    }

    private static async Task<(Guid Chat, Guid Answer)> AnsweredChatAsync(ApiClient client)
    {
        var chat = await client.CreateSessionAsync();
        var answer = await ApiClient.ReadAsync(await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "rate me" }));
        return (chat, answer.GetProperty("id").GetGuid());
    }

    private static async Task<Dictionary<(string?, string?), (int Up, int Down, int Comments)>> CountsAsync(ApiClient admin)
    {
        var response = await admin.GetAsync("api/v1/admin/feedback");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await ApiClient.ReadAsync(response)).EnumerateArray().ToDictionary(
            r => (Text(r, "model"), Text(r, "host")),
            r => (r.GetProperty("up").GetInt32(), r.GetProperty("down").GetInt32(), r.GetProperty("comments").GetInt32()));
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.GetString() : null;
}
