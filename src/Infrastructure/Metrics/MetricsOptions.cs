using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace MeatLizard.Infrastructure.Metrics;

/// <summary>
/// Where <c>/metrics</c> is served. <see cref="BearerToken"/> (API only): served on the API's own port to callers
/// that send <c>Authorization: Bearer</c> with it. <see cref="Port"/> (every host): served without a token on a
/// port bound to 127.0.0.1 only. Neither: not served.
/// </summary>
public sealed record MetricsOptions(string? BearerToken, int? Port)
{
    public const string Section = "Metrics";

    /// <summary>Shorter is guessable; the value is never echoed in the message.</summary>
    public const int MinTokenLength = 16;

    public static MetricsOptions Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(Section);
        var token = section["BearerToken"];
        if (string.IsNullOrEmpty(token))
        {
            token = null;
        }
        else if (token.Length < MinTokenLength || token.Any(char.IsWhiteSpace))
        {
            throw new ConfigurationException(
                $"Metrics:BearerToken must be at least {MinTokenLength} characters without spaces, e.g. the output of 'openssl rand -hex 32'.");
        }

        int? port = null;
        if (section["Port"] is { Length: > 0 } text)
        {
            port = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= 65535
                ? value
                : throw new ConfigurationException("Metrics:Port must be a TCP port from 1 to 65535, e.g. 9464.");
        }

        return new MetricsOptions(token, port);
    }

    /// <summary>Never the token: a record would print it.</summary>
    public override string ToString() => $"MetricsOptions {{ BearerToken = {(BearerToken is null ? "unset" : "set")}, Port = {Port} }}";
}
