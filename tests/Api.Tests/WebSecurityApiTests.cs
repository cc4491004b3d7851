using System.Net;
using System.Net.WebSockets;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>The web app's static files, its security headers and CSRF protection for cookie sessions.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class WebSecurityApiTests(string storage) : ApiHostFixture(storage)
{
    protected override bool WithEngine => false;

    [Test]
    public async Task Root_And_AppPaths_ServeTheBuiltPage()
    {
        RequireBuiltApp();
        using var client = Host.NewClient();

        var root = await client.GetAsync("/");
        var deepLink = await client.GetAsync($"/c/{Guid.NewGuid()}");

        foreach (var response in new[] { root, deepLink })
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
            var html = await response.Content.ReadAsStringAsync();
            Assert.That(html, Does.Contain("<title>MeatLizard</title>"));
            AssertNoInlineScriptOrStyle(html);
            Assert.That(response.Headers.CacheControl?.NoCache, Is.True);
        }
    }

    /// <summary>The page works under a CSP without 'unsafe-inline': every script is a file, no style or handler is inline.</summary>
    private static void AssertNoInlineScriptOrStyle(string html)
    {
        var scripts = System.Text.RegularExpressions.Regex.Matches(html, @"<script\b[^>]*>(.*?)</script>", System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.That(scripts, Is.Not.Empty);
        foreach (System.Text.RegularExpressions.Match script in scripts)
        {
            Assert.That(script.Value, Does.Match(@"^<script\b[^>]*\ssrc=""/assets/"), "scripts come from files");
            Assert.That(script.Groups[1].Value.Trim(), Is.Empty, "no inline script");
        }

        Assert.That(html, Does.Not.Contain("<style").IgnoreCase, "no inline style element");
        Assert.That(html, Does.Not.Match(@"\sstyle\s*="), "no style attribute");
        Assert.That(html, Does.Not.Match(@"\son[a-z]+\s*="), "no inline event handler");
        Assert.That(html, Does.Not.Contain("javascript:").IgnoreCase);
    }

    [Test]
    public async Task HashedAssets_AreServedAndCachedForGood()
    {
        RequireBuiltApp();
        using var client = Host.NewClient();
        var html = await (await client.GetAsync("/")).Content.ReadAsStringAsync();
        var script = System.Text.RegularExpressions.Regex.Match(html, "src=\"(/assets/[^\"]+\\.js)\"").Groups[1].Value;

        var response = await client.GetAsync(script);

        Assert.That(script, Is.Not.Empty, html);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/javascript"));
        Assert.That(response.Headers.CacheControl?.ToString(), Does.Contain("immutable"));
    }

    [TestCase("/api/v1/no-such-thing")]
    [TestCase("/api/v2/sessions")]
    [TestCase("/openapi/nothing")]
    public async Task ApiPaths_NeverFallBackToThePage(string path)
    {
        using var client = Host.NewClient();

        var response = await client.GetAsync(path);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.Not.EqualTo("text/html"));
    }

    [TestCase("/")]
    [TestCase("/api/v1/status")]
    [TestCase("/health")]
    public async Task EveryAnswer_CarriesTheSecurityHeaders(string path)
    {
        using var client = Host.NewClient();

        var response = await client.GetAsync(path);

        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.That(csp, Does.Contain("script-src 'self'"));
        Assert.That(csp, Does.Not.Contain("unsafe-inline"));
        Assert.That(csp, Does.Contain("frame-ancestors 'none'"));
        Assert.That(response.Headers.GetValues("X-Content-Type-Options").Single(), Is.EqualTo("nosniff"));
        Assert.That(response.Headers.GetValues("X-Frame-Options").Single(), Is.EqualTo("DENY"));
        Assert.That(response.Headers.GetValues("Referrer-Policy").Single(), Is.EqualTo("no-referrer"));
    }

    [Test]
    public async Task CookieSession_ChangeWithoutToken_IsRefused_AndWithToken_Allowed()
    {
        var (client, cookies) = await BrowserLikeClientAsync();
        using var _ = client;

        var withoutToken = await client.PostAsync("api/v1/sessions", new { title = "forged" });
        client.Http.DefaultRequestHeaders.Add("X-CSRF-Token", "wrong-token");
        var wrongToken = await client.PostAsync("api/v1/sessions", new { title = "forged" });
        client.Http.DefaultRequestHeaders.Remove("X-CSRF-Token");
        client.Http.DefaultRequestHeaders.Add("X-CSRF-Token", cookies.GetCookies(Host.BaseAddress)["meatlizard.csrf"]!.Value);
        var withToken = await client.PostAsync("api/v1/sessions", new { title = "mine" });

        Assert.That(withoutToken.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ApiClient.ReadAsync(withoutToken)).GetProperty("detail").GetString(), Does.Contain("security token"));
        Assert.That(wrongToken.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(withToken.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var list = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(list.EnumerateArray().Select(s => s.GetProperty("title").GetString()), Is.EqualTo(new[] { "mine" }));
    }

    [Test]
    public async Task TheOpenAiApi_TakesNoSessionCookie_OnlyABearerCredential()
    {
        var (client, cookies) = await BrowserLikeClientAsync();
        using var _ = client;
        client.Http.DefaultRequestHeaders.Add("X-CSRF-Token", cookies.GetCookies(Host.BaseAddress)["meatlizard.csrf"]!.Value);
        Assert.That((await client.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "signed in by the cookie");

        var models = await client.GetAsync("v1/models");
        var completion = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "as the signed-in user" } } });

        Assert.That(models.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(completion.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var list = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(list.GetArrayLength(), Is.Zero, "nothing was asked in the user's name");
    }

    [TestCase("Basic dXNlcjpsb25nIGVub3VnaA==")]
    [TestCase("Negotiate abc")]
    public async Task AnAuthorizationThatIsNotBearer_DoesNotSkipTheCsrfCheck(string authorization)
    {
        var (client, _) = await BrowserLikeClientAsync();
        using var __ = client;
        client.Http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);

        var response = await client.PostAsync("api/v1/sessions", new { title = "forged" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("detail").GetString(), Does.Contain("security token"));
    }

    [Test]
    public async Task CsrfCookie_IsReadableByThePage_AndStrict()
    {
        using var client = Host.NewClient();

        var response = await client.GetAsync("/");

        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("meatlizard.csrf=", StringComparison.Ordinal));
        Assert.That(cookie, Does.Not.Contain("httponly").IgnoreCase);
        Assert.That(cookie, Does.Contain("samesite=strict").IgnoreCase);
    }

    [TestCase("/api/v1/status")]
    [TestCase("/v1/models")]
    public async Task TheApisAnswers_SetNoCsrfCookie_OnlyPagesDo(string path)
    {
        using var client = Host.NewClient();

        var response = await client.GetAsync(path);

        Assert.That(response.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : [],
            Has.None.StartsWith("meatlizard.csrf="), "an API client has no page to read the token from");
    }

    [Test]
    public async Task BearerAndApiKeyCalls_NeedNoCsrfToken()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync(); // uses the access token (and also holds the cookie)

        var byToken = await client.PostAsync("api/v1/sessions", new { title = "by token" });
        var key = (await ApiClient.ReadAsync(await client.PostAsync("api/v1/auth/api-keys", new { name = "script" })))
            .GetProperty("key").GetString()!;
        using var program = Host.NewClient();
        program.UseBearer(key);
        var byKey = await program.PostAsync("api/v1/sessions", new { title = "by key" });

        Assert.That(byToken.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(byKey.StatusCode, Is.EqualTo(HttpStatusCode.Created));
    }

    [Test]
    public async Task ChangeFromAnotherSite_IsRefused_EvenWithoutSession()
    {
        using var client = Host.NewClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/auth/login")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { username = "someone", password = "long enough" }),
        };
        request.Headers.Add("Origin", "https://evil.example");

        var response = await client.Http.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task WebSocketFromAnotherSite_IsRefused_AndFromThePage_Accepted()
    {
        var (client, cookies) = await BrowserLikeClientAsync();
        using var _ = client;
        client.Http.DefaultRequestHeaders.Add("X-CSRF-Token", cookies.GetCookies(Host.BaseAddress)["meatlizard.csrf"]!.Value);
        var id = (await ApiClient.ReadAsync(await client.PostAsync("api/v1/sessions", new { title = "ws" }))).GetProperty("id").GetGuid();
        var uri = new UriBuilder(new Uri(Host.BaseAddress, $"api/v1/sessions/{id}/stream")) { Scheme = "ws" }.Uri;

        using var foreign = new ClientWebSocket();
        foreign.Options.Cookies = cookies;
        foreign.Options.SetRequestHeader("Origin", "https://evil.example");
        using var own = new ClientWebSocket();
        own.Options.Cookies = cookies;
        own.Options.SetRequestHeader("Origin", Host.BaseAddress.GetLeftPart(UriPartial.Authority));

        Assert.ThrowsAsync<WebSocketException>(() => foreign.ConnectAsync(uri, CancellationToken.None));
        await own.ConnectAsync(uri, CancellationToken.None);
        Assert.That(own.State, Is.EqualTo(WebSocketState.Open));
    }

    /// <summary>Signs up and logs in the way the page does: the session lives only in the cookie.</summary>
    private async Task<(ApiClient Client, CookieContainer Cookies)> BrowserLikeClientAsync()
    {
        var cookies = new CookieContainer();
        var client = new ApiClient(new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = Host.BaseAddress });
        var username = "w" + Guid.NewGuid().ToString("N")[..12];
        (await client.PostAsync("api/v1/auth/register", new { username, password = "long enough" })).EnsureSuccessStatusCode();
        (await client.PostAsync("api/v1/auth/login", new { username, password = "long enough" })).EnsureSuccessStatusCode();
        (await client.GetAsync("api/v1/auth/me")).EnsureSuccessStatusCode(); // the page's first call; it brings the token
        return (client, cookies);
    }

    private static void RequireBuiltApp()
    {
        var index = Path.Combine(SolutionRoot(), "src", "Presentation.Api", "wwwroot", "index.html");
        if (!File.Exists(index))
        {
            Assert.Fail($"{index} is missing: run ./test.sh (its web service runs scripts/web.sh), or scripts/web.sh.");
        }
    }

    private static string SolutionRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MeatLizard.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("MeatLizard.sln not found above the test binaries.");
    }
}
