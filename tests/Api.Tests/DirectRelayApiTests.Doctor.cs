using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Relay.Direct;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>The client bot's <c>doctor</c> against the direct relay: its probe of the server and its token, and its
/// relay keys compared by fingerprint with the API's (never a key).</summary>
public sealed partial class DirectRelayApiTests
{
    [Test]
    public async Task TheClientBotsDoctor_ProbesTheServerAndItsToken_WithoutTakingOverTheLiveHostsLink()
    {
        await using var api = await StartApiAsync();
        var admin = await api.FirstAdminAsync();
        var token = await TokenAsync(admin, "studio-mac");
        var engine = new ScriptedEngine { Reply = r => $"Direct says: {r.Turns[^1].Content}" };
        await using var bot = await DirectClientBot.StartAsync(api, _key, token, engine);
        await WaitForTheHostAsync(api);
        var connections = bot.Dialer.Connections;
        var server = api.BaseAddress.GetLeftPart(UriPartial.Authority);

        // The operator runs `doctor` on the Mac while the client bot serves, with the same settings; and on a Mac whose
        // client bot has not connected yet.
        var accepted = (await DirectRelayDoctorAsync(api.BaseAddress, token))[0];
        var spare = (await DirectRelayDoctorAsync(api.BaseAddress, await TokenAsync(admin, "spare-mac")))[0];
        var refused = (await DirectRelayDoctorAsync(api.BaseAddress, "mlh_not-a-token-anyone-made")).Single();
        var unreachable = (await DirectRelayDoctorAsync(new Uri("http://127.0.0.1:1/"), token)).Single();
        using var user = api.NewClient();
        await user.SignUpAsync();
        var answer = await AskAsync(user, await user.CreateSessionAsync(), "still there?");

        Assert.That(accepted, Is.EqualTo($"ok   direct relay: {server} accepts Relay:HostToken (host studio-mac)"));
        Assert.That(refused, Does.StartWith($"FAIL direct relay: {server} refused Relay:HostToken (unknown or revoked) — "));
        Assert.That(unreachable, Does.StartWith("FAIL direct relay: http://127.0.0.1:1 could not be reached"));
        Assert.That(answer, Is.EqualTo("Direct says: still there?"), "the live host still answers");
        Assert.That(bot.Dialer.Connections, Is.EqualTo(connections), "the probe did not take the host's link over");
        Assert.That(api.Services.GetRequiredService<IRelayHostLinks>().IsConnected("studio-mac"), Is.True);
        Assert.That(spare, Is.EqualTo($"ok   direct relay: {server} accepts Relay:HostToken (host spare-mac)"));
        var listed = (await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/hosts/tokens"))).EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == "spare-mac");
        Assert.That(!listed.TryGetProperty("lastUsedAt", out var used) || used.ValueKind == JsonValueKind.Null, Is.True,
            "a probe is no connection: the console does not say the spare Mac connected");
    }

    /// <summary>The direct relay's lines of the <c>doctor</c> verb of a client bot composed with these settings.</summary>
    private async Task<string[]> DirectRelayDoctorAsync(Uri server, string token, IDictionary<string, string?>? settings = null)
    {
        await using var doctor = DirectClientBot.Build(server, _key, token, new ScriptedEngine(), settings);
        var check = doctor.Host.Services.GetServices<IDoctorCheck>().OfType<DirectRelayDoctorCheck>().Single();
        return [.. (await check.RunAsync(CancellationToken.None)).Select(line => line.ToString())];
    }

    /// <summary>An API holding relay keys 1 (<see cref="_key"/>, active) and 2 (<paramref name="second"/>).</summary>
    private Task<ApiHost> StartApiWithTwoKeysAsync(string second) => StartApiAsync(new Dictionary<string, string?>
    {
        ["Relay:Keys:1:Id"] = "2",
        ["Relay:Keys:1:Key"] = second,
        ["Relay:ActiveKeyId"] = "1",
    });

    /// <summary>A client bot's keys beside key 1 (<see cref="_key"/>, active): <paramref name="id"/> holding <paramref name="key"/>.</summary>
    private static Dictionary<string, string?> SecondKey(int id, string key) => new()
    {
        ["Relay:Keys:1:Id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Relay:Keys:1:Key"] = key,
        ["Relay:ActiveKeyId"] = "1",
    };

    [Test]
    public async Task TheRelayEndpoint_TellsAHostWithALiveToken_ItsKeysByFingerprint_NeverAKey_AndARefusedCallerNothing()
    {
        var second = DirectClientBot.NewKey();
        await using var api = await StartApiWithTwoKeysAsync(second);
        var admin = await api.FirstAdminAsync();
        var counters = api.Services.GetRequiredService<DirectRelayCounters>();
        var token = await TokenAsync(admin, "studio-mac");
        var revoked = await TokenAsync(admin, "old-mac");
        (await admin.DeleteAsync("api/v1/admin/hosts/tokens/old-mac")).EnsureSuccessStatusCode();
        // The fingerprints as the host's own ring computes them from the same keys.
        var expected = RelayKeyRing.Create(new Dictionary<byte, byte[]>
        {
            [1] = Convert.FromBase64String(_key),
            [2] = Convert.FromBase64String(second),
        }, activeKeyId: 1);
        var refusedBefore = counters.Count(DirectRelayDrop.RefusedToken);

        var (status, body) = await ProbeAsync(api, token);
        var strangers = new List<(HttpStatusCode Status, string Body)>
        {
            await ProbeAsync(api, null),
            await ProbeAsync(api, "mlh_not-a-token-anyone-made"),
            await ProbeAsync(api, revoked),
        };

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        using var answer = JsonDocument.Parse(body);
        Assert.That(answer.RootElement.GetProperty("host").GetString(), Is.EqualTo("studio-mac"));
        var keys = answer.RootElement.GetProperty("keys").EnumerateArray()
            .Select(k => (k.GetProperty("id").GetInt32(), k.GetProperty("fingerprint").GetString())).ToList();
        Assert.That(keys, Is.EqualTo(new[] { (1, expected.Fingerprint(1)), (2, expected.Fingerprint(2)) }));
        foreach (var key in new[] { _key, second })
        {
            Assert.That(body, Does.Not.Contain(key).And.Not.Contain(Convert.ToHexString(Convert.FromBase64String(key))).IgnoreCase,
                "never a key");
        }

        Assert.That(strangers.Select(s => s.Status), Has.All.EqualTo(HttpStatusCode.Unauthorized));
        foreach (var (_, refusal) in strangers)
        {
            Assert.That(refusal, Does.Not.Contain("fingerprint").And.Not.Contain(expected.Fingerprint(1)).And.Not.Contain(expected.Fingerprint(2)),
                "no token, an unknown or a revoked one: not even a fingerprint");
        }

        Assert.That(counters.Count(DirectRelayDrop.RefusedToken), Is.EqualTo(refusedBefore + 3), "each refused probe counted");
    }

    /// <summary>A plain GET on the relay endpoint (no WebSocket upgrade), as the client bot's doctor sends it.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> ProbeAsync(ApiHost api, string? token)
    {
        using var http = new HttpClient();
        using var probe = new HttpRequestMessage(HttpMethod.Get, new DirectRelayOptions { ServerUrl = api.BaseAddress }.ProbeUri);
        if (token is not null)
        {
            probe.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await http.SendAsync(probe);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task TheClientBotsDoctor_ComparesItsRelayKeysWithTheApis_NamingEachKeyThatDiffersOrOnlyOneSideHolds()
    {
        var second = DirectClientBot.NewKey();
        await using var api = await StartApiWithTwoKeysAsync(second);
        var admin = await api.FirstAdminAsync();
        var token = await TokenAsync(admin, "studio-mac");
        var server = api.BaseAddress.GetLeftPart(UriPartial.Authority);
        var other = DirectClientBot.NewKey();

        var same = await DirectRelayDoctorAsync(api.BaseAddress, token, SecondKey(2, second));
        var differs = await DirectRelayDoctorAsync(api.BaseAddress, token, SecondKey(2, other));
        var missing = await DirectRelayDoctorAsync(api.BaseAddress, token);
        var missingBothWays = await DirectRelayDoctorAsync(api.BaseAddress, token, SecondKey(3, other));
        var refused = await DirectRelayDoctorAsync(api.BaseAddress, "mlh_not-a-token-anyone-made", SecondKey(2, second));

        const string fix = " — set Relay:Keys here to the API's, each id with the same key (the API's `doctor` prints their fingerprints)";
        Assert.That(same, Is.EqualTo(new[]
        {
            $"ok   direct relay: {server} accepts Relay:HostToken (host studio-mac)",
            $"ok   direct relay keys: Relay:Keys match {server}'s (keys 1, 2)",
        }));
        Assert.That(differs[1], Is.EqualTo($"FAIL direct relay keys: Relay:Keys here do not match {server}'s: key 2 differs; key 1 matches{fix}"));
        Assert.That(missing[1], Is.EqualTo($"FAIL direct relay keys: Relay:Keys here do not match {server}'s: key 2 is only on the API; key 1 matches{fix}"));
        Assert.That(missingBothWays[1], Is.EqualTo(
            $"FAIL direct relay keys: Relay:Keys here do not match {server}'s: key 3 is only here; key 2 is only on the API; key 1 matches{fix}"));
        Assert.That(refused, Is.EqualTo(new[]
        {
            $"FAIL direct relay: {server} refused Relay:HostToken (unknown or revoked) — make a token on the API host with `hosts add NAME` and set it as Relay:HostToken",
        }), "a refused token learns nothing of the keys");
        var everything = string.Join("\n", same.Concat(differs).Concat(missing).Concat(missingBothWays).Concat(refused));
        foreach (var key in new[] { _key, second, other })
        {
            Assert.That(everything, Does.Not.Contain(key).And.Not.Contain(Convert.ToHexString(Convert.FromBase64String(key))).IgnoreCase);
        }
    }
}
