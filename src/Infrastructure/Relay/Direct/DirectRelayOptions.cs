using MeatLizard.Application.Common;
using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// The direct relay's settings (section "Relay"): on the client bot, where the server is and its host token; on both
/// sides, the largest frame taken and how many envelopes may wait for an ack.
/// </summary>
public sealed record DirectRelayOptions
{
    /// <summary>Where the API's relay endpoint is, under the API's address.</summary>
    public const string EndpointPath = "api/v1/relay/direct";

    /// <summary>The handshake header that names the client side's incarnation of the link.</summary>
    public const string LinkHeader = "X-MeatLizard-Link";

    /// <summary>Relay:MaxFrameBytes: a larger frame is dropped (a request with a long history stays far below).</summary>
    public int MaxFrameBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Relay:MaxUnacknowledged: envelopes kept for a peer that is away; the oldest go past this.</summary>
    public int MaxUnacknowledged { get; init; } = 10_000;

    /// <summary>Relay:ServerUrl (client bot): the API's address (http, https, ws or wss).</summary>
    public Uri? ServerUrl { get; init; }

    /// <summary>Relay:HostToken (client bot): the token an admin made with <c>hosts add NAME</c>.</summary>
    public string? HostToken { get; init; }

    /// <summary>The relay endpoint's WebSocket address.</summary>
    public Uri EndpointUri
    {
        get
        {
            var builder = new UriBuilder(ServerUrl!)
            {
                Scheme = ServerUrl!.Scheme is "https" or "wss" ? "wss" : "ws",
            };
            builder.Path = builder.Path.TrimEnd('/') + "/" + EndpointPath;
            return builder.Uri;
        }
    }

    /// <summary>
    /// The relay endpoint's plain HTTP address: a GET there without the WebSocket upgrade is a probe (the client bot's
    /// <c>doctor</c>), which the server answers "token accepted" or 401 and nothing more, so a live host's link is untouched.
    /// </summary>
    public Uri ProbeUri => new UriBuilder(EndpointUri) { Scheme = EndpointUri.Scheme == "wss" ? "https" : "http" }.Uri;

    /// <summary>
    /// The WebSocket keep-alive of both ends, from the relay's settings: a ping every heartbeat interval, and a connection
    /// that answers none within a worker timeout is given up — the host's heartbeats could not have come through it
    /// either. Found dead that soon, a broken connection is dialled again at once, and the server holds the host's
    /// questions as cut off rather than take it for gone (<see cref="DirectServerRelayTransport"/>).
    /// </summary>
    public static (TimeSpan Interval, TimeSpan Timeout) KeepAliveOf(RelayOptions relay)
    {
        ArgumentNullException.ThrowIfNull(relay);
        return (relay.HeartbeatInterval, relay.WorkerTimeout);
    }

    /// <summary>Reads and checks the settings; <paramref name="clientBot"/> needs Relay:ServerUrl and Relay:HostToken.</summary>
    public static DirectRelayOptions Read(IConfiguration configuration, bool clientBot)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection("Relay");
        var options = new DirectRelayOptions
        {
            MaxFrameBytes = Positive(section, nameof(MaxFrameBytes), 4 * 1024 * 1024),
            MaxUnacknowledged = Positive(section, nameof(MaxUnacknowledged), 10_000),
        };
        if (!clientBot)
        {
            return options;
        }

        var url = section["ServerUrl"];
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new ConfigurationException(
                "Relay:ServerUrl is required with Relay:Transport=Direct: the API's address the client bot dials, e.g. https://chat.example.org.");
        }

        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https" or "ws" or "wss"))
        {
            throw new ConfigurationException($"Relay:ServerUrl '{url}' is not an http, https, ws or wss address.");
        }

        var token = section["HostToken"];
        if (string.IsNullOrWhiteSpace(token))
        {
            throw new ConfigurationException(
                "Relay:HostToken is required with Relay:Transport=Direct: make one on the API host with `hosts add NAME`.");
        }

        return options with { ServerUrl = server, HostToken = token.Trim() };
    }

    private static int Positive(IConfigurationSection section, string key, int fallback)
    {
        var value = section[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        return int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture,
            out var number) && number > 0
            ? number
            : throw new ConfigurationException($"Relay:{key} '{value}' is not a positive whole number.");
    }
}

/// <summary>The relay endpoint's answer to a probe with an accepted token: the host the token lets in.</summary>
public sealed record DirectRelayProbeAnswer(string Host);
