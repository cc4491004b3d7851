using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Branches: editing any question of the shown conversation starts a branch, regenerating keeps the earlier answer as a
/// version, switching versions changes the conversation shown — and the model is asked the conversation shown, as the
/// scripted host saw it.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class BranchApiTests(string storage) : ApiHostFixture(storage)
{
    [SetUp]
    public void ResetEngine()
    {
        Host.Engine.Hang = false;
        Host.Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
    }

    [Test]
    public async Task EditingTheSecondQuestion_StartsABranch_AndSwitchingBackAndForth_ChangesWhatTheModelIsAsked()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        foreach (var question in new[] { "one", "two", "three" })
        {
            await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = question });
        }

        var first = await PageAsync(client, id);
        var two = Id(first[2]);

        var edited = await client.PostAsync($"api/v1/sessions/{id}/messages/{two}/edit?wait=true", new { content = "two, edited" });

        Assert.That(edited.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var branch = await PageAsync(client, id);
        Assert.That(Contents(branch), Is.EqualTo(new[] { "one", "You said: one", "two, edited", "You said: two, edited" }));
        Assert.That(Versions(branch[2]), Is.EqualTo((1, 2)));
        Assert.That(Ids(branch[2].GetProperty("siblingIds")), Is.EqualTo(new[] { two, Id(branch[2]) }));
        Assert.That(branch[2].GetProperty("parentId").GetGuid(), Is.EqualTo(Id(first[1])));
        Assert.That(LastPrompt(id), Is.EqualTo(new[] { "one", "You said: one", "two, edited" }));

        // Back to the first version: the old branch to its end, and the next question is asked on it.
        var back = await ApiClient.ReadAsync(await client.PostAsync($"api/v1/sessions/{id}/messages/{two}/select", null));
        Assert.That(Contents(back.GetProperty("messages").EnumerateArray().ToList()),
            Is.EqualTo(new[] { "one", "You said: one", "two", "You said: two", "three", "You said: three" }));
        Assert.That(Versions(back.GetProperty("messages")[2]), Is.EqualTo((0, 2)));
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "four" });
        Assert.That(LastPrompt(id), Is.EqualTo(new[] { "one", "You said: one", "two", "You said: two", "three", "You said: three", "four" }));

        // And forth again: the edited branch as it was left.
        await client.PostAsync($"api/v1/sessions/{id}/messages/{Id(branch[2])}/select", null);
        Assert.That(Contents(await PageAsync(client, id)), Is.EqualTo(Contents(branch)));
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "five" });
        Assert.That(LastPrompt(id), Is.EqualTo(new[] { "one", "You said: one", "two, edited", "You said: two, edited", "five" }));

        // The transcript is the path shown; with all=true, the whole tree with its parents.
        var transcript = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/transcript"));
        Assert.That(transcript.GetProperty("messages").GetArrayLength(), Is.EqualTo(6));
        var tree = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/transcript?all=true"));
        var all = tree.GetProperty("messages").EnumerateArray().ToList();
        Assert.That(all, Has.Count.EqualTo(12));
        Assert.That(all.Count(m => !m.TryGetProperty("parentId", out _)), Is.EqualTo(1), "one first message");
    }

    [Test]
    public async Task Regenerating_KeepsTheEarlierAnswer_AsAVersionToSwitchBackTo()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "hi" });
        var attempt = 0;
        Host.Engine.Reply = r => $"Take {++attempt}";

        await client.PostAsync($"api/v1/sessions/{id}/regenerate?wait=true", null);

        var page = await PageAsync(client, id);
        Assert.That(Contents(page), Is.EqualTo(new[] { "hi", "Take 1" }));
        Assert.That(Versions(page[1]), Is.EqualTo((1, 2)));
        var earlier = Ids(page[1].GetProperty("siblingIds"))[0];
        var back = await ApiClient.ReadAsync(await client.PostAsync($"api/v1/sessions/{id}/messages/{earlier}/select", null));
        Assert.That(Contents(back.GetProperty("messages").EnumerateArray().ToList()), Is.EqualTo(new[] { "hi", "You said: hi" }));
        Assert.That(LastPrompt(id), Is.EqualTo(new[] { "hi" }), "the regenerated question was asked without an answer");
    }

    [Test]
    public async Task Switching_WhileAnswering_IsAConflict_AnAnswerCannotBeEdited_AndAStrangersChatIsNotFound()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "hi" });
        var page = await PageAsync(client, id);

        var editAnswer = await client.PostAsync($"api/v1/sessions/{id}/messages/{Id(page[1])}/edit", new { content = "x" });
        var unknown = await client.PostAsync($"api/v1/sessions/{id}/messages/{Guid.NewGuid()}/select", null);
        using var stranger = Host.NewClient();
        await stranger.SignUpAsync();
        var strangers = await stranger.PostAsync($"api/v1/sessions/{id}/messages/{Id(page[0])}/select", null);
        Host.Engine.Hang = true;
        await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "slow" });
        var whileAnswering = await client.PostAsync($"api/v1/sessions/{id}/messages/{Id(page[0])}/select", null);
        await client.PostAsync($"api/v1/sessions/{id}/cancel", null);

        Assert.That(editAnswer.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(editAnswer)).GetProperty("errors").TryGetProperty("messageId", out _), Is.True);
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(strangers.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(whileAnswering.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }

    [Test]
    public async Task AnOpenAiConversation_IsStoredAsOnePath_AndItsContinuationFollowsIt()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" })))
            .GetProperty("key").GetString()!;
        using var sdk = Host.NewClient();
        sdk.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        object[] history =
        [
            new { role = "user", content = "a" }, new { role = "assistant", content = "b" }, new { role = "user", content = "c" },
        ];

        await sdk.PostAsync("v1/chat/completions", new { model = "default", messages = history });
        await sdk.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = history.Append(new { role = "assistant", content = "You said: c" }).Append(new { role = "user", content = "d" }).ToArray(),
        });

        var chats = await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1), "the continuation went on in the same chat");
        var page = await PageAsync(owner, chats[0].GetProperty("id").GetGuid());
        Assert.That(Contents(page), Is.EqualTo(new[] { "a", "b", "c", "You said: c", "d", "You said: d" }));
        for (var i = 1; i < page.Count; i++)
        {
            Assert.That(page[i].GetProperty("parentId").GetGuid(), Is.EqualTo(Id(page[i - 1])), $"message {i}");
        }
    }

    private string[] LastPrompt(Guid id) =>
        Host.Engine.Requests.Last(r => r.ChatId == id).Turns.Select(t => t.Content).ToArray();

    private static async Task<List<JsonElement>> PageAsync(ApiClient client, Guid id) =>
        (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages")))
        .GetProperty("messages").EnumerateArray().ToList();

    private static Guid Id(JsonElement message) => message.GetProperty("id").GetGuid();

    private static Guid[] Ids(JsonElement array) => array.EnumerateArray().Select(e => e.GetGuid()).ToArray();

    private static string?[] Contents(IEnumerable<JsonElement> messages) =>
        messages.Select(m => m.GetProperty("content").GetString()).ToArray();

    private static (int Index, int Count) Versions(JsonElement message) =>
        (message.GetProperty("siblingIndex").GetInt32(), message.GetProperty("siblingCount").GetInt32());
}
