using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Deploy;

/// <summary>
/// deploy/nginx: the site parses (balanced braces, every directive ends with ';'), terminates TLS and forwards what
/// docs/reverse-proxy.md says the API needs: X-Forwarded-For/-Proto/-Host on every proxied location, WebSocket upgrade
/// and no buffering on a chat's stream, no buffering on the OpenAI endpoints' streams. nginx is not installed here, so
/// <c>nginx -t</c> is not run; this reads the file the way nginx groups it.
/// </summary>
[TestFixture]
public sealed class NginxSiteTests
{
    private static readonly string[] ForwardedHeaders = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"];

    [Test]
    public void Site_Parses()
    {
        Assert.That(() => Site(), Throws.Nothing);
    }

    [TestCase("proxy_http_version 1.1;", "proxy_http_version 1.1", TestName = "A directive without ';' is refused")]
    [TestCase("''      close;\n}", "''      close;\n", TestName = "An unclosed block is refused")]
    [TestCase("    }\n}", "    }\n}\n}", TestName = "A brace that closes nothing is refused")]
    public void Reader_RefusesBrokenSites(string valid, string broken)
    {
        var text = File.ReadAllText(DeployFiles.PathOf("nginx", "meatlizard.conf"));
        Assert.That(text, Does.Contain(valid));

        Assert.That(() => NginxConfig.Parse(ReplaceFirst(text, valid, broken)), Throws.TypeOf<FormatException>());
    }

    [Test]
    public void Https_HasACertificate_AndPlainHttpRedirects()
    {
        var servers = Site().Where(d => d.Name == "server").ToList();
        var tls = servers.Single(s => s.Values("listen").Any(l => l.Contains("443") && l.Contains("ssl")));
        var plain = servers.Single(s => s.Values("listen").Any(l => l is ["80"]));

        Assert.Multiple(() =>
        {
            Assert.That(tls.Values("ssl_certificate").Single().Single(), Does.EndWith(".pem"));
            Assert.That(tls.Values("ssl_certificate_key").Single().Single(), Does.EndWith(".pem"));
            Assert.That(NginxConfig.LocationFor(plain, "/api/v1/status")!.Values("return").Single(),
                Is.EqualTo(new[] { "301", "https://$host$request_uri" }));
        });
    }

    [Test]
    public void ChatStream_UpgradesWebSockets_AndIsNotBuffered()
    {
        var location = LocationFor("/api/v1/sessions/0f8fad5b-d9cb-469f-a165-70867728950e/stream");

        Assert.Multiple(() =>
        {
            Assert.That(Header(location, "Upgrade"), Is.EqualTo("$http_upgrade"));
            Assert.That(Header(location, "Connection"), Is.EqualTo("$connection_upgrade"));
            Assert.That(location.Values("proxy_http_version").Single(), Is.EqualTo(new[] { "1.1" }));
            Assert.That(location.Values("proxy_buffering").Single(), Is.EqualTo(new[] { "off" }));
            Assert.That(Duration(location, "proxy_read_timeout"), Is.GreaterThanOrEqualTo(TimeSpan.FromMinutes(10)));
        });
        var map = Site().Single(d => d.Name == "map");
        Assert.That(map.Arguments, Is.EqualTo(new[] { "$http_upgrade", "$connection_upgrade" }));
        Assert.That(map.Block!.Select(d => (d.Name, d.Arguments.Single())),
            Is.EquivalentTo(new[] { ("default", "upgrade"), ("", "close") }));
    }

    [TestCase("/v1/chat/completions")]
    [TestCase("/api/v1/sessions/0f8fad5b-d9cb-469f-a165-70867728950e/stream")]
    public void ServerSentEvents_AreNotBuffered(string path)
    {
        Assert.That(LocationFor(path).Values("proxy_buffering").Single(), Is.EqualTo(new[] { "off" }));
    }

    [TestCase("/v1/chat/completions", MeatLizard.Presentation.Api.OpenAi.OpenAiEndpoints.MaxBodyBytes)]
    [TestCase("/api/v1/sessions/0f8fad5b-d9cb-469f-a165-70867728950e/send", MeatLizard.Presentation.Api.ApiComposition.MaxRequestBodyBytes)]
    [TestCase("/", MeatLizard.Presentation.Api.ApiComposition.MaxRequestBodyBytes)]
    public void EachPathsBodyLimit_IsTheApisOwn(string path, long bytes)
    {
        // A location's own client_max_body_size, else the server's: the API's limit, neither less (nginx would refuse
        // with a bare 413 what the API takes: an OpenAI conversation over 256 KB) nor more.
        var tls = Site().Single(s => s.Name == "server" && s.Values("listen").Any(l => l.Contains("ssl")));
        var size = LocationFor(path).Values("client_max_body_size").SingleOrDefault()?.Single()
                   ?? tls.Values("client_max_body_size").Single().Single();

        Assert.That(Bytes(size), Is.EqualTo(bytes), $"client_max_body_size {size} for {path}");
    }

    private static long Bytes(string size) => char.ToLowerInvariant(size[^1]) switch
    {
        'k' => long.Parse(size[..^1], System.Globalization.CultureInfo.InvariantCulture) * 1024,
        'm' => long.Parse(size[..^1], System.Globalization.CultureInfo.InvariantCulture) * 1024 * 1024,
        _ => long.Parse(size, System.Globalization.CultureInfo.InvariantCulture),
    };

    [TestCase("/")]
    [TestCase("/api/v1/auth/login")]
    [TestCase("/api/v1/sessions/0f8fad5b-d9cb-469f-a165-70867728950e/send")]
    [TestCase("/api/v1/sessions/0f8fad5b-d9cb-469f-a165-70867728950e/stream")]
    [TestCase("/v1/chat/completions")]
    [TestCase("/v1/models")]
    public void EveryProxiedPath_TellsTheApiWhoTheBrowserIs(string path)
    {
        var location = LocationFor(path);

        Assert.Multiple(() =>
        {
            Assert.That(location.Values("proxy_pass").Single().Single(), Is.EqualTo("http://meatlizard_api"));
            // A location with any proxy_set_header of its own inherits none from the server: each must name all.
            foreach (var header in ForwardedHeaders)
            {
                Assert.That(Header(location, header), Is.Not.Null, $"{header} on {path}");
            }

            // docs/reverse-proxy.md: the browser's own address, never a client-supplied X-Forwarded-For.
            Assert.That(Header(location, "X-Forwarded-For"), Is.EqualTo("$remote_addr"));
            Assert.That(Header(location, "X-Forwarded-Proto"), Is.EqualTo("$scheme"));
            Assert.That(Header(location, "Host"), Is.EqualTo("$host"));
        });
    }

    [Test]
    public void Upstream_IsWhereTheSystemdUnitMakesTheApiListen()
    {
        var upstream = Site().Single(d => d.Name == "upstream" && d.Arguments is ["meatlizard_api"]);
        var unit = File.ReadAllText(DeployFiles.PathOf("systemd", "meatlizard-api.service"));

        Assert.That(unit, Does.Contain($"Environment=Urls=http://{upstream.Values("server").Single()[0]}\n"));
        Assert.That(unit, Does.Contain("ReverseProxy__KnownProxies=127.0.0.1"));
    }

    private static IReadOnlyList<NginxDirective> Site() =>
        NginxConfig.Parse(File.ReadAllText(DeployFiles.PathOf("nginx", "meatlizard.conf")));

    private static NginxDirective LocationFor(string path)
    {
        var tls = Site().Single(s => s.Name == "server" && s.Values("listen").Any(l => l.Contains("ssl")));
        return NginxConfig.LocationFor(tls, path) ?? throw new AssertionException($"no location serves {path}");
    }

    private static string? Header(NginxDirective location, string name) =>
        location.Values("proxy_set_header").Where(v => v[0].Equals(name, StringComparison.OrdinalIgnoreCase))
            .Select(v => v[1]).SingleOrDefault();

    private static TimeSpan Duration(NginxDirective location, string name)
    {
        var value = location.Values(name).Single().Single();
        var number = int.Parse(value[..^1], System.Globalization.CultureInfo.InvariantCulture);
        return value[^1] switch
        {
            's' => TimeSpan.FromSeconds(number),
            'm' => TimeSpan.FromMinutes(number),
            'h' => TimeSpan.FromHours(number),
            _ => throw new AssertionException($"{name} {value}: unexpected unit"),
        };
    }

    private static string ReplaceFirst(string text, string old, string replacement)
    {
        var at = text.IndexOf(old, StringComparison.Ordinal);
        return text[..at] + replacement + text[(at + old.Length)..];
    }
}
