using System.Net;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The API behind a TLS-terminating proxy (nginx, Caddy): the browser talks https to chat.example.org, the proxy http
/// to the API. Its forwarded headers are believed only from the configured proxies; here the tests' own loopback
/// address plays the proxy.
/// </summary>
public sealed class ReverseProxyApiTests
{
    private const string PublicOrigin = "https://chat.example.org";

    [Test]
    public async Task BehindAKnownProxy_CookiesAreSecure_AndABrowsersCookiePostIsAccepted()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["ReverseProxy:KnownProxies"] = "127.0.0.1",
        }).StartAsync();

        var browser = await SignInThroughProxyAsync(host);
        var created = await browser.PostAsync("api/v1/sessions", new { title = "through the proxy" });

        Assert.Multiple(() =>
        {
            Assert.That(browser.SessionCookie, Does.Contain("secure").IgnoreCase);
            Assert.That(browser.CsrfCookie, Does.Contain("secure").IgnoreCase);
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        });
    }

    [Test]
    public async Task PerIpLimits_CountAnIpv6NetworkAsOneClient_NotEachOfItsAddresses()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["ReverseProxy:KnownProxies"] = "127.0.0.1",
            ["RateLimits:RegisterPerIpPerMinute"] = "1",
            ["RateLimits:RegisterIpBurst"] = "1",
        }).StartAsync();

        async Task<HttpStatusCode> RegisterFromAsync(string address)
        {
            using var client = host.NewClient();
            client.Http.DefaultRequestHeaders.Add("X-Forwarded-For", address);
            var name = "v6" + Guid.NewGuid().ToString("N")[..10];
            return (await client.PostAsync("api/v1/auth/register", new { username = name, password = "long enough" })).StatusCode;
        }

        var first = await RegisterFromAsync("2001:db8:1:2::1");
        var sameNetwork = await RegisterFromAsync("2001:db8:1:2:ffff:eeee:dddd:cccc");
        var otherNetwork = await RegisterFromAsync("2001:db8:1:3::1");
        var ipv4 = await RegisterFromAsync("198.51.100.7");
        var nextIpv4 = await RegisterFromAsync("198.51.100.8");

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(sameNetwork, Is.EqualTo(HttpStatusCode.TooManyRequests), "another address of the same /64");
            Assert.That(otherNetwork, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(ipv4, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(nextIpv4, Is.EqualTo(HttpStatusCode.Created), "IPv4 addresses count one by one");
        });
    }

    [TestCase(null)]
    [TestCase("10.0.0.1")]
    public async Task ForwardedHeadersFromAnyoneElse_AreIgnored(string? knownProxy)
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["ReverseProxy:KnownProxies"] = knownProxy,
            ["RateLimits:RegisterPerIpPerMinute"] = "1",
            ["RateLimits:RegisterIpBurst"] = "1",
        }).StartAsync();

        // Signed in without an Origin (an https origin would be refused already), then a change from the https page.
        var browser = await SignInThroughProxyAsync(host, sendOrigin: false);
        browser.SendOrigin = true;
        var forged = await browser.PostAsync("api/v1/sessions", new { title = "claims to be https" });
        // The one registration this address may make is spent; a made-up X-Forwarded-For must not buy a fresh bucket.
        using var spoofing = host.NewClient();
        spoofing.Http.DefaultRequestHeaders.Add("X-Forwarded-For", "192.0.2.77");
        var spoofed = await spoofing.PostAsync("api/v1/auth/register", new { username = "spoofer", password = "long enough" });

        Assert.Multiple(() =>
        {
            Assert.That(browser.SessionCookie, Does.Not.Contain("secure").IgnoreCase);
            Assert.That(forged.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "the origin is https, this request is not");
            Assert.That(spoofed.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        });
    }

    [TestCase("--ReverseProxy:KnownProxies=banana", "ReverseProxy:KnownProxies 'banana'")]
    [TestCase("--ReverseProxy:KnownNetworks:0=10.0.0.0/99", "ReverseProxy:KnownNetworks:0 '10.0.0.0/99'")]
    [TestCase("--RateLimits:ChatCreationBurst=-1", "RateLimits:ChatCreationBurst")]
    [TestCase("--RateLimits:ConcurrencyLease=00:00:00", "RateLimits:ConcurrencyLease")]
    [TestCase("--Transcripts:Retention=00:00:01", "Transcripts:Retention")]
    public async Task BadSetting_StopsTheHostWithOneLineNamingTheKey(string setting, string named)
    {
        var api = Path.Combine(TestContext.CurrentContext.TestDirectory, "MeatLizard.Presentation.Api.dll");
        var dataRoot = Path.Combine(Path.GetTempPath(), "meatlizard-config-test", Guid.NewGuid().ToString("N"));
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = TestContext.CurrentContext.TestDirectory,
        };
        foreach (var argument in new[] { api, setting, $"--Data:Root={dataRoot}", "--urls=http://127.0.0.1:0" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var reading = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The host started with {setting} instead of refusing it.");
        }

        await stdout;
        var stderr = await reading;

        Assert.That(process.ExitCode, Is.EqualTo(2));
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), stderr);
        Assert.That(lines[0], Does.Contain(named));
    }

    /// <summary>A browser at https://chat.example.org that registered, signed in and holds both cookies.</summary>
    private static async Task<ProxiedBrowser> SignInThroughProxyAsync(ApiHost host, bool sendOrigin = true)
    {
        var browser = new ProxiedBrowser(host) { SendOrigin = sendOrigin };
        var username = "p" + Guid.NewGuid().ToString("N")[..12];
        (await browser.PostAsync("api/v1/auth/register", new { username, password = "long enough" })).EnsureSuccessStatusCode();
        var login = await browser.PostAsync("api/v1/auth/login", new { username, password = "long enough" });
        login.EnsureSuccessStatusCode();
        browser.SessionCookie = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("meatlizard.session=", StringComparison.Ordinal));
        var me = await browser.GetAsync("api/v1/auth/me");
        me.EnsureSuccessStatusCode();
        browser.CsrfCookie = me.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("meatlizard.csrf=", StringComparison.Ordinal));
        return browser;
    }

    /// <summary>
    /// What the API sees of a browser behind the proxy: the proxy's forwarded headers, the browser's Origin, and the
    /// cookies sent back by hand (a cookie jar would keep Secure cookies off this plain-http hop).
    /// </summary>
    private sealed class ProxiedBrowser(ApiHost host)
    {
        private readonly HttpClient _http = new(new HttpClientHandler { UseCookies = false }) { BaseAddress = host.BaseAddress };

        public string? SessionCookie { get; set; }

        public string? CsrfCookie { get; set; }

        public bool SendOrigin { get; set; } = true;

        public Task<HttpResponseMessage> GetAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Get, path));

        public Task<HttpResponseMessage> PostAsync(string path, object body) =>
            SendAsync(new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = System.Net.Http.Json.JsonContent.Create(body, options: ApiClient.Json),
            });

        private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
        {
            using (request)
            {
                request.Headers.Add("X-Forwarded-For", "198.51.100.20");
                request.Headers.Add("X-Forwarded-Proto", "https");
                request.Headers.Add("X-Forwarded-Host", "chat.example.org");
                if (SendOrigin)
                {
                    request.Headers.Add("Origin", PublicOrigin);
                }

                var cookies = new[] { SessionCookie, CsrfCookie }.OfType<string>().Select(c => c.Split(';')[0]).ToList();
                if (cookies.Count > 0)
                {
                    request.Headers.Add("Cookie", string.Join("; ", cookies));
                }

                if (CsrfCookie is not null)
                {
                    request.Headers.Add("X-CSRF-Token", CsrfCookie.Split(';')[0]["meatlizard.csrf=".Length..]);
                }

                return await _http.SendAsync(request);
            }
        }
    }
}
