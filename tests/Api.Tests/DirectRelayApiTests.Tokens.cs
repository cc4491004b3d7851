using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Relay.Direct;
using MeatLizard.Presentation.Api;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>The direct relay's host tokens: made, shown once, listed, revoked (by the API and the command line), and
/// refused at the handshake once revoked.</summary>
public sealed partial class DirectRelayApiTests
{
    [Test]
    public async Task TheAdminStatus_WithTheDirectRelay_ListsEachHostToken_ConnectedLastConnectedAndRevoked_AsTheTokensListDoes()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        await using var bot = await DirectClientBot.StartAsync(api, _key, await TokenAsync(admin, "studio-mac"), new ScriptedEngine());
        await WaitForTheHostAsync(api);
        await TokenAsync(admin, "spare-mac");
        await TokenAsync(admin, "old-mac");
        (await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac")).EnsureSuccessStatusCode();

        var status = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/status"));
        var listed = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/hosts/tokens"));
        using var member = api.NewClient();
        await member.SignUpAsync();
        var refused = await member.GetAsync("api/v1/admin/status");

        var tokens = status.GetProperty("hostTokens").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        Assert.That(status.GetProperty("platform").GetProperty("transport").GetString(), Is.EqualTo("Direct"));
        Assert.That(tokens.Keys, Is.EquivalentTo(new[] { "studio-mac", "spare-mac", "old-mac" }));
        Assert.That(tokens["studio-mac"].GetProperty("connected").GetBoolean(), Is.True);
        Assert.That(tokens["studio-mac"].GetProperty("lastUsedAt").GetDateTimeOffset(),
            Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)), "when it last connected");
        Assert.That(tokens["studio-mac"].TryGetProperty("revokedAt", out _), Is.False);
        Assert.That(tokens["spare-mac"].GetProperty("connected").GetBoolean(), Is.False);
        Assert.That(tokens["spare-mac"].TryGetProperty("lastUsedAt", out _), Is.False, "never connected");
        Assert.That(tokens["old-mac"].GetProperty("connected").GetBoolean(), Is.False);
        Assert.That(tokens["old-mac"].GetProperty("revokedAt").GetDateTimeOffset(),
            Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
        Assert.That(status.GetProperty("hostTokens").GetRawText(), Is.EqualTo(listed.GetRawText()),
            "the same tokens, in the same order and shape, as the tokens list");
        Assert.That(status.GetProperty("hostTokens").GetRawText(), Does.Not.Contain("mlh_"), "never a token itself");
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "admins only");
    }

    [Test]
    public async Task TheAdminStatus_WithoutTheDirectRelay_HasNoHostTokens()
    {
        await using var api = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        var admin = await api.FirstAdminAsync();
        await TokenAsync(admin, "studio-mac");

        var status = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/status"));

        Assert.That(status.GetProperty("platform").GetProperty("transport").GetString(), Is.EqualTo("InProcess"));
        Assert.That(status.TryGetProperty("hostTokens", out _), Is.False, "no direct relay, so no host tokens in its status");
    }

    [Test]
    public async Task HostsAdd_OnAnApiWithoutTheDirectRelay_MakesTheToken_AndSaysNoHostCanDialInYet()
    {
        await using var api = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        var output = new StringWriter();

        var added = await AdminCommandLine.RunAsync(["hosts", "add", "early-mac"], api.Services, null, output, TextWriter.Null);

        Assert.That(added, Is.Zero);
        Assert.That(output.ToString(), Does.Contain("mlh_"), "made ahead of the switch, as in the console");
        Assert.That(output.ToString(), Does.Contain(
            "This API does not run the direct relay (Relay:Transport is InProcess): early-mac cannot dial in with the token until it does"));
        Assert.That(output.ToString(), Does.Not.Contain("client bot settings"));
    }

    [Test]
    public async Task UnknownAndRevokedTokens_AreRefusedAtTheHandshake_AndCounted_AndRevokingEndsTheHostsConnection()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        var counters = api.Services.GetRequiredService<DirectRelayCounters>();
        var token = await TokenAsync(admin, "old-mac");
        await using var bot = await DirectClientBot.StartAsync(api, _key, token, new ScriptedEngine());
        await WaitForTheHostAsync(api);

        var noToken = RefusalOf(api, null);
        var unknown = RefusalOf(api, "mlh_not-a-token-anyone-made");
        var refusedBefore = counters.Count(DirectRelayDrop.RefusedToken);
        var revoked = await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac");
        var revokedAgain = await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac");
        var afterRevoking = RefusalOf(api, token);
        await ChatApiTests.PollAsync(() => !api.Services.GetRequiredService<IRelayHostLinks>().IsConnected("old-mac"),
            "the revoked host's connection did not end");

        Assert.That(noToken, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(unknown, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(refusedBefore, Is.GreaterThanOrEqualTo(2), "each refused handshake counted");
        Assert.That(revoked.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(revokedAgain.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(afterRevoking, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(counters.Count(DirectRelayDrop.RefusedToken), Is.GreaterThan(refusedBefore));
    }

    [Test]
    public async Task HostTokens_AreShownOnce_OneLivePerName_AdminsOnly_ByTheApiAndTheCommandLine_AndAudited()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        using var user = api.NewClient();
        await user.SignUpAsync();

        var made = await MakeTokenAsync(admin, "mac-mini");
        var twice = await MakeTokenAsync(admin, "mac-mini");
        var badName = await MakeTokenAsync(admin, "no spaces/please");
        var byUser = await MakeTokenAsync(user, "sneaky");
        var output = new StringWriter();
        var error = new StringWriter();
        var added = await AdminCommandLine.RunAsync(["hosts", "add", "cli-host"], api.Services, null, output, error);
        var revokedByCli = await AdminCommandLine.RunAsync(["hosts", "revoke", "cli-host"], api.Services, null, output, error);
        var revokeUnknown = await AdminCommandLine.RunAsync(["hosts", "revoke", "nobody"], api.Services, null, output, error);
        var listed = (await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/hosts/tokens"))).EnumerateArray().ToList();

        var token = (await ApiClient.ReadAsync(made)).GetProperty("token").GetString()!;
        Assert.That(made.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(token, Does.StartWith("mlh_"));
        Assert.That(twice.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ApiClient.ReadAsync(twice)).GetProperty("errors").TryGetProperty("name", out _), Is.True,
            "a duplicate names the field");
        Assert.That(badName.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(badName)).GetProperty("errors").TryGetProperty("name", out _), Is.True);
        Assert.That(byUser.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((added, revokedByCli, revokeUnknown), Is.EqualTo((0, 0, 1)));
        Assert.That(output.ToString(), Does.Contain("mlh_"), "the verb prints the token once");
        var fingerprint = api.Services.GetRequiredService<RelayKeyRing>().Fingerprint(1);
        Assert.That(output.ToString(), Does.Contain($"ok   relay keys: key 1 (active) fingerprint {fingerprint}"),
            "the keys the host must hold, by fingerprint, as doctor prints them there");
        Assert.That(output.ToString(), Does.Contain(
            "cli-host's client bot settings: Relay:Transport=Direct Relay:ServerUrl=<this API's address as cli-host reaches it> Relay:HostToken=<the token above>"));
        Assert.That(output.ToString(), Does.Not.Contain(_key), "never the relay key itself");
        Assert.That(error.ToString(), Does.Contain("nobody"));
        Assert.That(listed.Select(t => (t.GetProperty("name").GetString(), Revoked: t.TryGetProperty("revokedAt", out var at)
                && at.ValueKind == JsonValueKind.String)),
            Is.EquivalentTo(new[] { ("mac-mini", false), ("cli-host", true) }));
        Assert.That(listed.All(t => !t.TryGetProperty("lastUsedAt", out var used) || used.ValueKind == JsonValueKind.Null),
            Is.True, "no host has connected with either");

        await using var scope = api.Services.CreateAsyncScope();
        var audit = await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None);
        Assert.That(audit.Count(a => a.Command == "host token"), Is.GreaterThanOrEqualTo(3));
        Assert.That(audit.Any(a => a.Command == "host token" && a.Arguments == "name=mac-mini"
            && a.Actor.Contains($"({ApiHost.OperatorName})", StringComparison.Ordinal)), Is.True, "who made it, by the web");
        Assert.That(audit.Any(a => a.Command == "host token" && a.Arguments == "name=sneaky"
            && a.Outcome == AuditOutcome.Refused), Is.True, "a non-admin's attempt is audited as refused");
        Assert.That(audit.Any(a => a.Command == "host token revoke" && a.Arguments!.Contains("cli-host")), Is.True);
        Assert.That(JsonSerializer.Serialize(audit), Does.Not.Contain(token));
        var cliToken = output.ToString().Split(Environment.NewLine)[1].Trim();
        Assert.That(JsonSerializer.Serialize(audit), Does.Not.Contain(cliToken));
    }
}
