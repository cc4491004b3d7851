using System.Net;
using System.Net.Http.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Deleting an account, by its owner (with the password) or an admin: one transaction that leaves no row naming the user
/// or one of their chats, their stored transcripts gone, and every credential of theirs refused.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AccountDeletionApiTests(string storage) : ApiHostFixture(storage)
{
    [Test]
    public async Task DeleteMyAccount_NeedsThePassword_ThenLeavesNothingOfTheUser_AndEndsEveryCredential()
    {
        using var other = Host.NewClient();
        await other.SignUpAsync();
        var theirs = await other.CreateSessionAsync(new { title = "someone else's" });

        using var client = Host.NewClient();
        var username = await client.SignUpAsync();
        var (userId, chats, apiKey) = await FillAnAccountAsync(client);
        Assert.That(await UserRowsProbe.ObjectsAsync(Host, $"transcripts/{userId:D}/"), Is.Not.Empty, "a stored transcript");
        Assert.That(await UserRowsProbe.LeftoversAsync(Host, userId, chats), Is.Not.Empty, "the probe finds the user's rows");

        // Another browser of the user's, signed in with a cookie only.
        using var browser = Host.NewClient();
        await browser.SignInAsync(username, "correct horse battery");
        browser.Http.DefaultRequestHeaders.Authorization = null;
        Assert.That((await browser.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var wrong = await DeleteAccountAsync(client, "not my password");
        var missing = await DeleteAccountAsync(client, null);
        Assert.Multiple(async () =>
        {
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ApiClient.ReadAsync(wrong)).GetProperty("errors").TryGetProperty("password", out _), Is.True);
            Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ApiClient.ReadAsync(missing)).GetProperty("errors").TryGetProperty("password", out _), Is.True);
        });

        var deleted = await DeleteAccountAsync(client, "correct horse battery");

        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent), await deleted.Content.ReadAsStringAsync());
        Assert.That(await UserRowsProbe.LeftoversAsync(Host, userId, chats), Is.Empty, "no row names the user or their chats");
        Assert.That(await UserRowsProbe.ObjectsAsync(Host, $"transcripts/{userId:D}/"), Is.Empty, "their transcripts are gone");
        using var byKey = Host.NewClient();
        byKey.UseBearer(apiKey);
        Assert.Multiple(async () =>
        {
            Assert.That((await client.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the access token");
            Assert.That((await browser.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the cookie");
            Assert.That((await byKey.GetAsync("api/v1/sessions")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the API key");
            Assert.That((await other.GetAsync($"api/v1/sessions/{theirs}")).StatusCode, Is.EqualTo(HttpStatusCode.OK),
                "nobody else's data goes");
        });
        var login = await Host.NewClient().PostAsync("api/v1/auth/login", new { username, password = "correct horse battery" });
        Assert.That(login.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the account is gone");
    }

    [Test]
    public async Task AnAdminDeletesAUser_Audited_ButNotThemselves_NorTheLastAdmin_AndOthersAre403()
    {
        var operatorClient = await Host.FirstAdminAsync();
        var operatorId = await MeAsync(operatorClient);
        var lastAdmin = await DeleteAccountAsync(operatorClient, ApiHost.AdminPassword);
        Assert.That(lastAdmin.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "the last admin stays");

        using var admin = await Host.AdminClientAsync();
        using var user = Host.NewClient();
        await user.SignUpAsync();
        var (userId, chats, _) = await FillAnAccountAsync(user);
        using var stranger = Host.NewClient();
        await stranger.SignUpAsync();

        var refused = await stranger.DeleteAsync($"api/v1/admin/users/{userId}");
        var self = await admin.DeleteAsync($"api/v1/admin/users/{await MeAsync(admin)}");
        var unknown = await admin.DeleteAsync($"api/v1/admin/users/{Guid.NewGuid()}");
        var deleted = await admin.DeleteAsync($"api/v1/admin/users/{userId}");

        Assert.Multiple(async () =>
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(self.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK), await deleted.Content.ReadAsStringAsync());
            Assert.That(await UserRowsProbe.LeftoversAsync(Host, userId, chats), Is.Empty);
            Assert.That(await UserRowsProbe.ObjectsAsync(Host, $"transcripts/{userId:D}/"), Is.Empty);
            Assert.That((await user.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        });
        await using var scope = Host.Services.CreateAsyncScope();
        var audit = await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None);
        Assert.That(audit.Where(e => e.Command == "delete user").Select(e => (e.Arguments, e.Outcome)), Is.SupersetOf(new[]
        {
            ($"user={userId}", AuditOutcome.Succeeded),
            ($"user={userId}", AuditOutcome.Refused),
        }));

        // With a second admin, the first may go.
        Assert.That((await DeleteAccountAsync(operatorClient, ApiHost.AdminPassword)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(await UserRowsProbe.LeftoversAsync(Host, operatorId, []), Is.Empty);
    }

    [Test]
    public async Task DeleteMyAccount_CancelsTheAnswerBeingWritten_InTheirChat()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var userId = await MeAsync(client);
        var chat = await client.CreateSessionAsync();
        var cancelledBefore = Host.Engine.Cancellations;
        Host.Engine.Hang = true;
        try
        {
            var sent = await client.PostAsync($"api/v1/sessions/{chat}/send", new { content = "a long answer, please" });
            Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
            await EventuallyAsync(() => Host.Engine.TimesAsked("a long answer, please") == 1, "the model host is writing");

            var deleted = await DeleteAccountAsync(client, "correct horse battery");

            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent), await deleted.Content.ReadAsStringAsync());
            await EventuallyAsync(() => Host.Engine.Cancellations > cancelledBefore, "the generation was cancelled");
            Assert.That(await UserRowsProbe.LeftoversAsync(Host, userId, [chat]), Is.Empty);
        }
        finally
        {
            Host.Engine.Hang = false;
        }
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), what);
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Gives the signed-in user a bit of everything: an API key, a persona, defaults, a chat started with the persona and
    /// answered, its answer rated, a share link, a stored transcript, a link code and a second chat.
    /// </summary>
    private static async Task<(Guid UserId, List<Guid> Chats, string ApiKey)> FillAnAccountAsync(ApiClient client)
    {
        var userId = await MeAsync(client);
        var key = await ApiClient.ReadAsync(await client.PostAsync("api/v1/auth/api-keys", new { name = "script" }));
        var persona = await ApiClient.ReadAsync(await client.PostAsync("api/v1/personas",
            new { name = "Pirate", systemPrompt = "Talk like a pirate." }));
        (await client.PutAsync("api/v1/auth/preferences", new { systemPrompt = "Be brief." })).EnsureSuccessStatusCode();
        var chat = await client.CreateSessionAsync(new { personaId = persona.GetProperty("id").GetGuid() });
        var answer = await ApiClient.ReadAsync(await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "ahoy" }));
        (await client.PutAsync($"api/v1/sessions/{chat}/messages/{answer.GetProperty("id").GetGuid()}/feedback",
            new { rating = "up" })).EnsureSuccessStatusCode();
        (await client.PostAsync($"api/v1/sessions/{chat}/share", new { })).EnsureSuccessStatusCode();
        (await client.GetAsync($"api/v1/sessions/{chat}/transcript?store=true")).EnsureSuccessStatusCode();
        (await client.PostAsync("api/v1/auth/link-codes", null)).EnsureSuccessStatusCode();
        var second = await client.CreateSessionAsync();
        return (userId, [chat, second], key.GetProperty("key").GetString()!);
    }

    private static async Task<Guid> MeAsync(ApiClient client) =>
        Guid.Parse((await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/me"))).GetProperty("id").GetString()!);

    private static Task<HttpResponseMessage> DeleteAccountAsync(ApiClient client, string? password) =>
        client.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/v1/auth/account")
        {
            Content = JsonContent.Create(new { password }, options: ApiClient.Json),
        });
}
