using System.Net;
using MeatLizard.Infrastructure;
using Microsoft.AspNetCore.HttpOverrides;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Running behind a TLS-terminating reverse proxy (nginx, Caddy). The proxy's <c>X-Forwarded-For</c>,
/// <c>X-Forwarded-Proto</c> and <c>X-Forwarded-Host</c> are believed only from the addresses in
/// <c>ReverseProxy:KnownProxies</c> and the networks in <c>ReverseProxy:KnownNetworks</c>; with neither set they are
/// ignored, whoever sends them. Once believed, the request carries the browser's own address (per-IP limits), scheme
/// (cookies marked <c>Secure</c> for https) and host (the CSRF origin check compares against what the browser saw).
/// </summary>
public static class ReverseProxy
{
    public const string Section = "ReverseProxy";

    public static IServiceCollection AddReverseProxySupport(this IServiceCollection services, IConfiguration configuration)
    {

        var section = configuration.GetSection(Section);
        var proxies = Read(section, "KnownProxies").Select(entry => IPAddress.TryParse(entry.Value, out var address)
            ? address
            : throw new ConfigurationException($"{entry.Path} '{entry.Value}' is not an IP address, e.g. 10.0.0.5.")).ToList();
        var networks = Read(section, "KnownNetworks").Select(entry => System.Net.IPNetwork.TryParse(entry.Value, out var network)
            ? network
            : throw new ConfigurationException(
                $"{entry.Path} '{entry.Value}' is not a network in CIDR notation, e.g. 10.0.0.0/8.")).ToList();
        services.AddSingleton(new TrustedProxies(proxies.Count + networks.Count > 0));
        services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // The defaults trust loopback; only what the operator names is trusted here.
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var proxy in proxies)
            {
                options.KnownProxies.Add(proxy);
            }

            foreach (var network in networks)
            {
                options.KnownIPNetworks.Add(network);
            }

            // Walk back through chained trusted proxies; stop at the first address that is not one of them.
            options.ForwardLimit = null;
        });
        return services;
    }

    /// <summary>First in the pipeline, so everything after it (limits, cookies, CSRF) sees the original request.</summary>
    public static WebApplication UseReverseProxySupport(this WebApplication app)
    {
        // Without a trusted proxy there is no middleware at all: with empty lists it would believe everyone.
        if (app.Services.GetRequiredService<TrustedProxies>().Any)
        {
            app.UseForwardedHeaders();
        }

        return app;
    }

    /// <summary>Whether any proxy is trusted.</summary>
    private sealed record TrustedProxies(bool Any);

    /// <summary>A list (<c>KnownProxies:0</c>, …) or one comma-separated value (handy in an environment variable).</summary>
    private static IEnumerable<(string Path, string Value)> Read(IConfigurationSection section, string key)
    {
        var child = section.GetSection(key);
        var entries = child.Value is { } single
            ? single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(value => (Path: $"{Section}:{key}", Value: value))
            : child.GetChildren().Select(c => (Path: $"{Section}:{key}:{c.Key}", Value: c.Value?.Trim() ?? string.Empty));
        return entries;
    }
}
