using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using MediatR;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Credentials end when they should: a logout ends the sign-in session it was made with (cookie and access token
/// alike), a password change and a ban end all of the user's sessions, and an open stream closes within seconds of
/// any of these or of its API key being revoked.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class CredentialEndApiTests(string storage) : ApiHostFixture(storage)
{
    private static readonly TimeSpan StreamCloses = TimeSpan.FromSeconds(8);

    protected override bool WithEngine => false;

    [Test]
    public async Task LogOut_WithAnAccessToken_EndsThatToken_AndLeavesTheUsersOtherSignIns()
    {
        using var first = Host.NewClient();
        var username = await first.SignUpAsync();
        using var second = Host.NewClient();
        second.UseBearer(await LogInAsync(second, username, "correct horse battery"));

        Assert.That((await first.PostAsync("api/v1/auth/logout", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        Assert.That((await first.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized),
            "the token used to log out is dead, though it has not expired");
        Assert.That((await second.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK),
            "another sign-in of the same user goes on");
    }

    [Test]
    public async Task LogOut_WithTheCookie_AlsoEndsTheAccessTokenOfThatSignIn()
    {
        var cookies = new CookieContainer();
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = Host.BaseAddress };
        using var browser = new ApiClient(http);
        var username = "u" + Guid.NewGuid().ToString("N")[..12];
        await browser.PostAsync("api/v1/auth/register", new { username, password = "correct horse battery" });
        var token = await LogInAsync(browser, username, "correct horse battery");
        var captured = cookies.GetCookies(Host.BaseAddress)["meatlizard.session"]!.Value;
        await browser.GetAsync("api/v1/auth/me"); // the page's CSRF token comes with the first call on the session
        http.DefaultRequestHeaders.Add("X-CSRF-Token", cookies.GetCookies(Host.BaseAddress)["meatlizard.csrf"]!.Value);

        await browser.PostAsync("api/v1/auth/logout", null);

        using var program = Host.NewClient();
        program.UseBearer(token);
        Assert.That((await program.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        // The cookie a thief copied before the logout is dead too: the server ended the session, not only the browser.
        using var replay = new HttpRequestMessage(HttpMethod.Get, "api/v1/auth/me");
        replay.Headers.Add("Cookie", $"meatlizard.session={captured}");
        using var plain = new HttpClient { BaseAddress = Host.BaseAddress };
        Assert.That((await plain.SendAsync(replay)).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ChangePassword_EndsEverySignIn_AndSignsTheCallerInAgain()
    {
        using var caller = Host.NewClient();
        var username = await caller.SignUpAsync();
        using var elsewhere = Host.NewClient();
        elsewhere.UseBearer(await LogInAsync(elsewhere, username, "correct horse battery"));

        var changed = await caller.PostAsync("api/v1/auth/password",
            new { currentPassword = "correct horse battery", newPassword = "a new long password" });
        Assert.That(changed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var oldToken = caller.AccessToken!;
        caller.UseBearer((await ApiClient.ReadAsync(changed)).GetProperty("accessToken").GetString()!);

        using var stale = Host.NewClient();
        stale.UseBearer(oldToken);
        Assert.That((await stale.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await elsewhere.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await caller.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var fresh = Host.NewClient();
        Assert.That((await fresh.PostAsync("api/v1/auth/login", new { username, password = "correct horse battery" })).StatusCode,
            Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await fresh.PostAsync("api/v1/auth/login", new { username, password = "a new long password" })).StatusCode,
            Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task LogOutEverywhere_EndsEverySignInOfTheUser_TheCallersToo_AndLeavesApiKeysAndOtherUsers()
    {
        using var caller = Host.NewClient();
        var username = await caller.SignUpAsync();
        using var elsewhere = Host.NewClient();
        elsewhere.UseBearer(await LogInAsync(elsewhere, username, "correct horse battery"));
        var key = (await ApiClient.ReadAsync(await caller.PostAsync("api/v1/auth/api-keys", new { name = "script" })))
            .GetProperty("key").GetString()!;
        using var program = Host.NewClient();
        program.UseBearer(key);
        using var someoneElse = Host.NewClient();
        await someoneElse.SignUpAsync();

        Assert.That((await caller.PostAsync("api/v1/auth/logout-everywhere", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        Assert.That((await caller.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await elsewhere.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await program.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "an API key is not a sign-in");
        Assert.That((await someoneElse.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var again = Host.NewClient();
        again.UseBearer(await LogInAsync(again, username, "correct horse battery"));
        Assert.That((await again.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "signing in again works");
    }

    [Test]
    public async Task LogOutEverywhere_WithoutASignIn_Is401()
    {
        using var anonymous = Host.NewClient();

        Assert.That((await anonymous.PostAsync("api/v1/auth/logout-everywhere", null)).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ChangePassword_EndsTheApiKeys_UnlessTheUserKeepsThem(bool keep)
    {
        using var caller = Host.NewClient();
        await caller.SignUpAsync();
        var key = (await ApiClient.ReadAsync(await caller.PostAsync("api/v1/auth/api-keys", new { name = "script" })))
            .GetProperty("key").GetString()!;
        using var program = Host.NewClient();
        program.UseBearer(key);
        Assert.That((await program.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var changed = await caller.PostAsync("api/v1/auth/password",
            new { currentPassword = "correct horse battery", newPassword = "a new long password", keepApiKeys = keep });

        Assert.That(changed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await program.GetAsync("api/v1/auth/me")).StatusCode,
            Is.EqualTo(keep ? HttpStatusCode.OK : HttpStatusCode.Unauthorized));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ChangePassword_UnlinksTheLinkedChatAccounts_UnlessTheUserKeepsThem(bool keep)
    {
        using var caller = Host.NewClient();
        var username = await caller.SignUpAsync();
        var member = new ChannelMember("telegram", Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture), "m");
        await LinkAsync(caller, member);
        Assert.That(await OwnerNameAsync(member), Is.EqualTo(username));

        var changed = await caller.PostAsync("api/v1/auth/password",
            new { currentPassword = "correct horse battery", newPassword = "a new long password", keepLinkedAccounts = keep });
        caller.UseBearer((await ApiClient.ReadAsync(changed)).GetProperty("accessToken").GetString()!);
        var listed = await ApiClient.ReadAsync(await caller.GetAsync("api/v1/auth/linked-accounts"));

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(changed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(listed.GetArrayLength(), Is.EqualTo(keep ? 1 : 0));
            Assert.That(await OwnerNameAsync(member), Is.EqualTo(keep ? username : $"telegram:{member.Id}"),
                "unlinked, the member asks as their own user again");
        });
    }

    [Test]
    public async Task LinkedAccounts_AreListed_AndUnlinkedWithAPasswordSignIn_NotWithAnApiKey()
    {
        using var caller = Host.NewClient();
        var username = await caller.SignUpAsync();
        var member = new ChannelMember("discord", "80351110224678999", "m");
        await LinkAsync(caller, member);
        var key = (await ApiClient.ReadAsync(await caller.PostAsync("api/v1/auth/api-keys", new { name = "script" })))
            .GetProperty("key").GetString()!;
        using var program = Host.NewClient();
        program.UseBearer(key);

        var listed = await ApiClient.ReadAsync(await caller.GetAsync("api/v1/auth/linked-accounts"));
        var byKey = await program.DeleteAsync($"api/v1/auth/linked-accounts/discord/{member.Id}");
        var ownerAfterKey = await OwnerNameAsync(member);
        var unlinked = await caller.DeleteAsync($"api/v1/auth/linked-accounts/discord/{member.Id}");
        var again = await caller.DeleteAsync($"api/v1/auth/linked-accounts/discord/{member.Id}");
        using var other = Host.NewClient();
        await other.SignUpAsync();
        var notTheirs = await other.DeleteAsync($"api/v1/auth/linked-accounts/discord/{member.Id}");

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(listed.GetArrayLength(), Is.EqualTo(1));
            Assert.That(listed[0].GetProperty("network").GetString(), Is.EqualTo("discord"));
            Assert.That(listed[0].GetProperty("externalId").GetString(), Is.EqualTo(member.Id));
            Assert.That(byKey.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(ownerAfterKey, Is.EqualTo(username), "an API key unlinks nothing");
            Assert.That(unlinked.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
            Assert.That(await OwnerNameAsync(member), Is.EqualTo($"discord:{member.Id}"));
            Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(notTheirs.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That((await ApiClient.ReadAsync(await caller.GetAsync("api/v1/auth/linked-accounts"))).GetArrayLength(),
                Is.Zero);
        });
    }

    /// <summary>Links the member to the caller's account as the bots do: a code, then /link with it, confirmed.</summary>
    private async Task LinkAsync(ApiClient caller, ChannelMember member)
    {
        var code = (await ApiClient.ReadAsync(await caller.PostAsync("api/v1/auth/link-codes", null)))
            .GetProperty("code").GetString()!;
        await using var scope = Host.Services.CreateAsyncScope();
        var members = ActivatorUtilities.CreateInstance<ChannelMembers>(scope.ServiceProvider);
        IChannelCommands commands = ActivatorUtilities.CreateInstance<ChannelCommands>(scope.ServiceProvider, members);
        var answer = await commands.LinkAsync(member, code + " confirm", privately: true, CancellationToken.None);
        Assert.That(answer, Does.StartWith("Linked"));
    }

    private async Task<string?> OwnerNameAsync(ChannelMember member)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var identity = await scope.ServiceProvider.GetRequiredService<IChannelIdentityStore>()
            .FindAsync(member.Network, member.Id, CancellationToken.None);
        var owner = await scope.ServiceProvider.GetRequiredService<IUserRepository>()
            .GetAsync(identity!.UserId, CancellationToken.None);
        return owner?.Username.Value;
    }

    [Test]
    public async Task ChangePassword_WithAWrongCurrentPassword_Is400NamingIt_AndChangesNothing()
    {
        using var caller = Host.NewClient();
        await caller.SignUpAsync();

        var refused = await caller.PostAsync("api/v1/auth/password",
            new { currentPassword = "not my password", newPassword = "a new long password" });
        var tooShort = await caller.PostAsync("api/v1/auth/password",
            new { currentPassword = "correct horse battery", newPassword = "short" });

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await refused.Content.ReadAsStringAsync()), Does.Contain("currentPassword"));
        Assert.That(tooShort.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await tooShort.Content.ReadAsStringAsync()), Does.Contain("newPassword"));
        Assert.That((await caller.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Ban_EndsTheUsersAccessTokens()
    {
        using var user = Host.NewClient();
        var username = await user.SignUpAsync();

        await BanAsync(username);

        Assert.That((await user.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task OpenStream_ClosesWithinSeconds_OfALogoutOfItsSignIn()
    {
        using var user = Host.NewClient();
        await user.SignUpAsync();
        var chatId = await user.CreateSessionAsync();
        await using var stream = await OpenStreamAsync(Host, chatId, user.AccessToken!);

        Assert.That((await user.PostAsync("api/v1/auth/logout", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        Assert.That(await stream.ClosedAsync(StreamCloses), Is.EqualTo((WebSocketCloseStatus)4401));
    }

    [Test]
    public async Task OpenStream_ClosesWithinSeconds_OfABan()
    {
        using var user = Host.NewClient();
        var username = await user.SignUpAsync();
        var chatId = await user.CreateSessionAsync();
        await using var stream = await OpenStreamAsync(Host, chatId, user.AccessToken!);

        await BanAsync(username);

        Assert.That(await stream.ClosedAsync(StreamCloses), Is.EqualTo((WebSocketCloseStatus)4401));
    }

    [Test]
    public async Task OpenStream_ClosesWithinSeconds_OfItsApiKeyBeingRevoked_AndStaysOpenOtherwise()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chatId = await owner.CreateSessionAsync();
        var created = await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "stream" }));
        await using var byKey = await OpenStreamAsync(Host, chatId, created.GetProperty("key").GetString()!);
        await using var byToken = await OpenStreamAsync(Host, chatId, owner.AccessToken!);

        await owner.DeleteAsync($"api/v1/auth/api-keys/{created.GetProperty("id").GetGuid()}");

        Assert.That(await byKey.ClosedAsync(StreamCloses), Is.EqualTo((WebSocketCloseStatus)4401));
        Assert.That(byToken.IsOpen, Is.True, "the owner's own sign-in was not touched");
    }

    [Test]
    public async Task OpenServerSentEvents_EndWithinSeconds_OfALogout()
    {
        using var user = Host.NewClient();
        await user.SignUpAsync();
        var chatId = await user.CreateSessionAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/sessions/{chatId}/stream");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await user.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        // Open before the logout: a refused or at once ended response would also "end within seconds".
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        const string Connected = ": connected\n\n";
        var first = new byte[Connected.Length];
        using (var opening = new CancellationTokenSource(StreamCloses))
        {
            var read = await body.ReadAtLeastAsync(first, first.Length, throwOnEndOfStream: false, opening.Token);
            Assert.That(System.Text.Encoding.UTF8.GetString(first, 0, read), Is.EqualTo(Connected), "the stream's first line");
        }

        Assert.That((await user.PostAsync("api/v1/auth/logout", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        using var deadline = new CancellationTokenSource(StreamCloses);
        var buffer = new byte[1024];
        while (await body.ReadAsync(buffer, deadline.Token) > 0)
        {
        }
    }

    /// <summary>
    /// Opens the session's WebSocket stream and proves it open before the credential ends: the upgrade was accepted
    /// and an event published to the session afterwards came through. A stream refused or closed at once would
    /// otherwise pass the "closes within seconds" checks.
    /// </summary>
    internal static async Task<SessionStream> OpenStreamAsync(ApiHost host, Guid chatId, string credential)
    {
        var stream = await SessionStream.OpenAsync(host.BaseAddress, chatId, credential);
        await host.Services.GetRequiredService<IChatEvents>()
            .PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: "open"), CancellationToken.None);
        try
        {
            await stream.WaitForAsync(e => e.GetProperty("type").GetString() == ChatEventTypes.Status
                && e.GetProperty("status").GetString() == "open", TimeSpan.FromSeconds(5));
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("An event published to the session did not come through its stream within 5 s: it was not open.");
        }

        Assert.That(stream.IsOpen, Is.True, "the stream was open before the credential ended");
        return stream;
    }

    internal static async Task<string> LogInAsync(ApiClient client, string username, string password)
    {
        var login = await client.PostAsync("api/v1/auth/login", new { username, password });
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("accessToken").GetString()!;
    }

    private async Task BanAsync(string username)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IMediator>()
            .Send(new BanUser(new AdminActor("test:1", "admin", true), username));
    }
}

/// <summary>
/// The same across API instances: two hosts on one PostgreSQL and one Redis; a logout or a ban at one closes a stream
/// open at the other within seconds, and the other refuses the ended credential (its user cache hears of the change
/// through Redis).
/// </summary>
[Parallelizable(ParallelScope.Self)]
public sealed class CredentialEndAcrossInstancesApiTests
{
    private static readonly TimeSpan StreamCloses = TimeSpan.FromSeconds(8);
    private string _server = null!;
    private string _database = null!;
    private ApiHost _first = null!;
    private ApiHost _second = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_POSTGRES") ?? "";
        var redis = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_REDIS") ?? "";
        Assert.That(_server, Is.Not.Empty, "MEATLIZARD_TEST_POSTGRES is not set: run ./test.sh, which starts PostgreSQL");
        Assert.That(redis, Is.Not.Empty, "MEATLIZARD_TEST_REDIS is not set: run ./test.sh, which starts Redis");
        _database = "ml_credentials_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync($"CREATE DATABASE {_database}");
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = new Npgsql.NpgsqlConnectionStringBuilder(_server) { Database = _database }.ConnectionString,
            ["Cache:Provider"] = "Redis",
            ["ConnectionStrings:Redis"] = redis,
            ["Cache:Redis:KeyPrefix"] = $"{_database}:",
        };
        _first = await new ApiHost(settings, withEngine: false).StartAsync();
        _second = await new ApiHost(settings, withEngine: false).StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        Npgsql.NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
    }

    [Test]
    public async Task ALogoutAtOneInstance_ClosesTheStreamOpenAtTheOther_AndTheOtherRefusesTheToken()
    {
        using var atFirst = _first.NewClient();
        await atFirst.SignUpAsync();
        var chatId = await atFirst.CreateSessionAsync();
        using var atSecond = _second.NewClient();
        atSecond.UseBearer(atFirst.AccessToken!);
        Assert.That((await atSecond.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await using var stream = await CredentialEndApiTests.OpenStreamAsync(_second, chatId, atFirst.AccessToken!);

        Assert.That((await atFirst.PostAsync("api/v1/auth/logout", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        Assert.That(await stream.ClosedAsync(StreamCloses), Is.EqualTo((WebSocketCloseStatus)4401));
        Assert.That((await atSecond.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ALogoutEverywhereAtOneInstance_ClosesTheStreamOpenAtTheOther()
    {
        using var atFirst = _first.NewClient();
        var username = await atFirst.SignUpAsync();
        var chatId = await atFirst.CreateSessionAsync();
        using var atSecond = _second.NewClient();
        atSecond.UseBearer(await CredentialEndApiTests.LogInAsync(atSecond, username, "correct horse battery"));
        await using var stream = await CredentialEndApiTests.OpenStreamAsync(_second, chatId, atSecond.AccessToken!);

        Assert.That((await atFirst.PostAsync("api/v1/auth/logout-everywhere", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        Assert.That(await stream.ClosedAsync(StreamCloses), Is.EqualTo((WebSocketCloseStatus)4401));
        Assert.That((await atSecond.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ABanAtOneInstance_ClosesTheStreamOpenAtTheOther()
    {
        using var user = _second.NewClient();
        var username = await user.SignUpAsync();
        var chatId = await user.CreateSessionAsync();
        await using var stream = await CredentialEndApiTests.OpenStreamAsync(_second, chatId, user.AccessToken!);

        await using (var scope = _first.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IMediator>()
                .Send(new BanUser(new AdminActor("test:1", "admin", true), username));
        }

        Assert.That(await stream.ClosedAsync(StreamCloses), Is.EqualTo((WebSocketCloseStatus)4401));
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(_server);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
