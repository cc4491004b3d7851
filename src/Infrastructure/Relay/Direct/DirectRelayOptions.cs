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

    /// <summary>
    /// Relay:MaxFrameBytes: a larger frame is dropped. The default carries a request with the most image bytes the API
    /// takes by default (5 MB: <see cref="OpenAiOptions.MaxImageBytes"/>, <see cref="RelayOptions.MaxImageBytesPerRequest"/>)
    /// and a long history beside them (<see cref="FrameBytesFor"/>); the server end refuses to start with less.
    /// </summary>
    public int MaxFrameBytes { get; init; } = DefaultMaxFrameBytes;

    private const int DefaultMaxFrameBytes = 16 * 1024 * 1024;

    /// <summary>
    /// The frame a request envelope with <paramref name="imageBytes"/> of images needs at most: the images go base64 twice
    /// over (as <c>data:</c> URLs in the request's JSON, then the sealed envelope: 16/9 of their size), and 1 MiB is left
    /// for the conversation's words.
    /// </summary>
    public static long FrameBytesFor(long imageBytes) => imageBytes * 16 / 9 + 1024 * 1024;

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
    /// <c>doctor</c>), which the server answers "token accepted" with its relay keys' fingerprints, or 401 and nothing
    /// more, so a live host's link is untouched.
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
            MaxFrameBytes = Positive(section, nameof(MaxFrameBytes), DefaultMaxFrameBytes),
            MaxUnacknowledged = Positive(section, nameof(MaxUnacknowledged), 10_000),
        };
        if (!clientBot)
        {
            CheckFrameHoldsImages(configuration, options.MaxFrameBytes);
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

    /// <summary>
    /// Refuses a frame limit that the images the API takes would not fit: a request over it is dropped by its host, and
    /// the question ends in a notice where the model could have answered.
    /// </summary>
    private static void CheckFrameHoldsImages(IConfiguration configuration, int maxFrameBytes)
    {
        var perMessage = Bytes(configuration, "OpenAi:MaxImageBytes", new OpenAiOptions().MaxImageBytes);
        var perRequest = Bytes(configuration, "Relay:MaxImageBytesPerRequest", new RelayOptions().MaxImageBytesPerRequest);
        var needed = FrameBytesFor(Math.Max(perMessage, perRequest));
        if (maxFrameBytes < needed)
        {
            throw new ConfigurationException(
                $"Relay:MaxFrameBytes {maxFrameBytes} is too small for a request with the images the API takes " +
                $"(OpenAi:MaxImageBytes {perMessage}, Relay:MaxImageBytesPerRequest {perRequest}): it needs at least " +
                $"{needed}. Raise it (on the client bots too) or lower those.");
        }
    }

    /// <summary>A byte count setting as its own options read it; one that does not parse is theirs to refuse.</summary>
    private static long Bytes(IConfiguration configuration, string key, long fallback) =>
        long.TryParse(configuration[key], System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : fallback;

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

/// <summary>
/// The relay endpoint's answer to a probe with an accepted token: the host the token lets in, and the API's relay keys
/// by fingerprint (never a key), for the host's <c>doctor</c> to compare with its own. Null keys: an API from before
/// it told them.
/// </summary>
public sealed record DirectRelayProbeAnswer(string Host, IReadOnlyList<RelayKeyFingerprint>? Keys);
