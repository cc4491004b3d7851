using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using MeatLizard.Infrastructure.Relay.Direct;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>
/// The direct relay, from the client bot: Relay:ServerUrl answers and takes Relay:HostToken. A probe (a plain GET on
/// the relay endpoint, no WebSocket), so a client bot already connected with the same token keeps its link.
/// </summary>
public sealed class DirectRelayDoctorCheck(DirectRelayOptions options) : IDoctorCheck
{
    private const string Name = "direct relay";
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
                    [DoctorResult.Pass(Name, $"{server} accepts Relay:HostToken (host {answer.Host})")],
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
}
