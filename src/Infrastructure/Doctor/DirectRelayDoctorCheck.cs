using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Relay.Direct;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>
/// The direct relay, from the client bot: Relay:ServerUrl answers and takes Relay:HostToken, and the API holds the same
/// relay keys as Relay:Keys here (compared by fingerprint: a key only one side holds, or held differently, leaves the
/// envelopes sealed with it unopened at the other). A probe (a plain GET on the relay endpoint, no WebSocket), so a
/// client bot already connected with the same token keeps its link.
/// </summary>
public sealed class DirectRelayDoctorCheck(DirectRelayOptions options, RelayKeyRing ring) : IDoctorCheck
{
    private const string Name = "direct relay";
    private const string KeysName = "direct relay keys";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        var server = options.ServerUrl!.GetLeftPart(UriPartial.Authority);
        using var http = new HttpClient { Timeout = Timeout };
        using var probe = new HttpRequestMessage(HttpMethod.Get, options.ProbeUri);
        probe.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.HostToken);
        try
        {
            using var response = await http.SendAsync(probe, cancellationToken);
            return response.StatusCode switch
            {
                HttpStatusCode.OK when await response.Content.ReadFromJsonAsync<DirectRelayProbeAnswer>(cancellationToken) is { } answer =>
                    [DoctorResult.Pass(Name, $"{server} accepts Relay:HostToken (host {answer.Host})"), CompareKeys(server, answer.Keys)],
                HttpStatusCode.Unauthorized =>
                    [DoctorResult.Fail(Name, $"{server} refused Relay:HostToken (unknown or revoked)",
                        "make a token on the API host with `hosts add NAME` and set it as Relay:HostToken")],
                HttpStatusCode.NotFound =>
                    [DoctorResult.Fail(Name, $"{server} has no direct relay endpoint",
                        "set Relay:Transport=Direct on the API host, and Relay:ServerUrl here to its address")],
                var status =>
                    [DoctorResult.Fail(Name, $"{server} answered {(int)status} {response.ReasonPhrase}",
                        "check Relay:ServerUrl and the reverse proxy in front of the API")],
            };
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return [DoctorResult.Fail(Name, $"{server} could not be reached ({ex.GetType().Name})",
                "check Relay:ServerUrl, that the API runs, and this machine's way to it")];
        }
    }

    /// <summary>Relay:Keys here against the API's, key by key: which match, differ, or only one side holds.</summary>
    private DoctorResult CompareKeys(string server, IReadOnlyList<RelayKeyFingerprint>? theirs)
    {
        if (theirs is null)
        {
            return DoctorResult.Pass(KeysName,
                $"{server} does not say its keys (an API from before it did): compare its doctor's relay keys line with this one's");
        }

        var ours = ring.Fingerprints.ToDictionary(k => k.Id, k => k.Fingerprint);
        var across = theirs.ToDictionary(k => k.Id, k => k.Fingerprint);
        var same = ours.Keys.Where(id => across.TryGetValue(id, out var print) && print == ours[id]).Order().ToList();
        var differ = ours.Keys.Where(id => across.TryGetValue(id, out var print) && print != ours[id]).Order().ToList();
        var onlyHere = ours.Keys.Except(across.Keys).Order().ToList();
        var onlyThere = across.Keys.Except(ours.Keys).Order().ToList();
        if (differ.Count == 0 && onlyHere.Count == 0 && onlyThere.Count == 0)
        {
            return DoctorResult.Pass(KeysName, $"Relay:Keys match {server}'s ({KeyIds(same)})");
        }

        var findings = new (List<byte> Ids, string One, string Many)[]
        {
            (differ, "differs", "differ"), (onlyHere, "is only here", "are only here"),
            (onlyThere, "is only on the API", "are only on the API"), (same, "matches", "match"),
        };
        var detail = string.Join("; ", findings.Where(f => f.Ids.Count > 0)
            .Select(f => $"{KeyIds(f.Ids)} {(f.Ids.Count == 1 ? f.One : f.Many)}"));
        return DoctorResult.Fail(KeysName, $"Relay:Keys here do not match {server}'s: {detail}",
            "set Relay:Keys here to the API's, each id with the same key (the API's `doctor` prints their fingerprints)");
    }

    private static string KeyIds(IReadOnlyList<byte> ids) => (ids.Count == 1 ? "key " : "keys ") + string.Join(", ", ids);
}
