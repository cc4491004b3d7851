using System.Net;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AuthApiTests(string storage) : ApiHostFixture(storage)
{
    protected override bool WithEngine => false;

    [Test]
    public async Task AnApiKey_CannotMakeKeysOrLinkCodes_OnlyAPasswordSignInCan()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "script" })))
            .GetProperty("key").GetString()!;
        using var byKey = Host.NewClient();
        byKey.UseBearer(key);

        var minted = await byKey.PostAsync("api/v1/auth/api-keys", new { name = "minted by a key" });
        var code = await byKey.PostAsync("api/v1/auth/link-codes", new { });

        Assert.That(minted.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ApiClient.ReadAsync(minted)).GetProperty("detail").GetString(), Does.Contain("API key cannot"));
        Assert.That(code.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync("api/v1/auth/api-keys"))).GetArrayLength(), Is.EqualTo(1));
        Assert.That((await owner.PostAsync("api/v1/auth/link-codes", new { })).StatusCode, Is.EqualTo(HttpStatusCode.OK),
            "the password sign-in still can");
    }

    [Test]
    public async Task Register_WithValidCredentials_Returns201WithIdAndUsername()
    {
        using var client = Host.NewClient();

        var response = await client.PostAsync("api/v1/auth/register", new { username = "alice.w-1", password = "long enough" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var body = await ApiClient.ReadAsync(response);
        Assert.That(body.GetProperty("username").GetString(), Is.EqualTo("alice.w-1"));
        Assert.That(body.GetProperty("id").GetGuid(), Is.Not.EqualTo(Guid.Empty));
    }

    [Test]
    public async Task LinkCode_ForASignedInUser_IsShortLivedAndNewEachTime()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var first = await client.PostAsync("api/v1/auth/link-codes", null);
        var second = await client.PostAsync("api/v1/auth/link-codes", null);

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await ApiClient.ReadAsync(first);
        var code = body.GetProperty("code").GetString();
        Assert.That(code, Does.Match("^[A-HJ-NP-Z2-9]{10}$"), "ten characters nobody misreads");
        Assert.That(body.GetProperty("expiresAt").GetDateTimeOffset(),
            Is.EqualTo(DateTimeOffset.UtcNow.AddMinutes(10)).Within(TimeSpan.FromMinutes(1)));
        Assert.That((await ApiClient.ReadAsync(second)).GetProperty("code").GetString(), Is.Not.EqualTo(code));
    }

    [Test]
    public async Task LinkCode_WithoutSigningIn_Returns401()
    {
        using var client = Host.NewClient();

        var response = await client.PostAsync("api/v1/auth/link-codes", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Register_WhenUsernameTakenInAnyCase_Returns409()
    {
        using var client = Host.NewClient();
        await client.PostAsync("api/v1/auth/register", new { username = "TakenName", password = "long enough" });

        var response = await client.PostAsync("api/v1/auth/register", new { username = "takenname", password = "long enough" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }

    [TestCase("ab", "long enough", "username")]
    [TestCase("has space", "long enough", "username")]
    [TestCase("abcdefghijklmnopqrstuvwxyz0123456", "long enough", "username")]
    [TestCase("valid_name", "short", "password")]
    [TestCase("valid_name", null, "password")]
    public async Task Register_WithInvalidField_Returns400NamingTheField(string? username, string? password, string field)
    {
        using var client = Host.NewClient();

        var response = await client.PostAsync("api/v1/auth/register", new { username, password });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var problem = await ApiClient.ReadAsync(response);
        Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, problem.ToString());
    }

    [Test]
    public async Task LogIn_ReturnsTokenAndSetsHttpOnlySessionCookie()
    {
        using var client = Host.NewClient();
        await client.PostAsync("api/v1/auth/register", new { username = "cookie_user", password = "long enough" });

        var response = await client.PostAsync("api/v1/auth/login", new { username = "cookie_user", password = "long enough" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await ApiClient.ReadAsync(response);
        Assert.That(body.GetProperty("accessToken").GetString(), Is.Not.Empty);
        Assert.That(body.GetProperty("expiresIn").GetInt32(), Is.GreaterThan(0));
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("meatlizard.session=", StringComparison.Ordinal));
        Assert.That(cookie, Does.Contain("httponly").IgnoreCase);
    }

    [Test]
    public async Task LogIn_UnknownUserAndWrongPassword_GetTheSame401()
    {
        using var client = Host.NewClient();
        await client.PostAsync("api/v1/auth/register", new { username = "known_user", password = "long enough" });

        var wrongPassword = await client.PostAsync("api/v1/auth/login", new { username = "known_user", password = "not the password" });
        var unknownUser = await client.PostAsync("api/v1/auth/login", new { username = "nobody_here", password = "long enough" });

        Assert.That(wrongPassword.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(unknownUser.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var a = await ApiClient.ReadAsync(wrongPassword);
        var b = await ApiClient.ReadAsync(unknownUser);
        Assert.That(a.GetProperty("detail").GetString(), Is.EqualTo(b.GetProperty("detail").GetString()));
    }

    [Test]
    public async Task Cookie_FromLogIn_AuthenticatesLaterRequests()
    {
        var cookies = new System.Net.CookieContainer();
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = Host.BaseAddress };
        using var client = new ApiClient(http);
        await client.PostAsync("api/v1/auth/register", new { username = "browser_user", password = "long enough" });
        await client.PostAsync("api/v1/auth/login", new { username = "browser_user", password = "long enough" });

        var me = await client.GetAsync("api/v1/auth/me");
        // A cookie-authenticated change repeats the page's CSRF token (see WebSecurityApiTests).
        http.DefaultRequestHeaders.Add("X-CSRF-Token", cookies.GetCookies(Host.BaseAddress)["meatlizard.csrf"]!.Value);
        await client.PostAsync("api/v1/auth/logout", null);
        var afterLogout = await client.GetAsync("api/v1/auth/me");

        Assert.That(me.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await ApiClient.ReadAsync(me)).GetProperty("username").GetString(), Is.EqualTo("browser_user"));
        Assert.That(afterLogout.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task WithoutCredentials_ProtectedCallsReturn401()
    {
        using var client = Host.NewClient();

        var sessions = await client.GetAsync("api/v1/sessions");
        var badToken = new HttpRequestMessage(HttpMethod.Get, "api/v1/sessions");
        badToken.Headers.Authorization = new("Bearer", "not-a-token");
        var withBadToken = await client.Http.SendAsync(badToken);

        Assert.That(sessions.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(withBadToken.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ApiKey_IsShownOnce_WorksAsBearer_AndStopsWorkingWhenRevoked()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();

        var created = await owner.PostAsync("api/v1/auth/api-keys", new { name = "my script" });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var key = await ApiClient.ReadAsync(created);
        var secret = key.GetProperty("key").GetString()!;
        var id = key.GetProperty("id").GetGuid();

        var list = await ApiClient.ReadAsync(await owner.GetAsync("api/v1/auth/api-keys"));
        Assert.That(list.GetArrayLength(), Is.EqualTo(1));
        Assert.That(list[0].GetProperty("name").GetString(), Is.EqualTo("my script"));
        Assert.That(list[0].TryGetProperty("key", out _), Is.False, "the key is shown only once");
        Assert.That(list.ToString(), Does.Not.Contain(secret));

        using var program = Host.NewClient();
        program.UseBearer(secret);
        Assert.That((await program.GetAsync("api/v1/sessions")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        Assert.That((await owner.DeleteAsync($"api/v1/auth/api-keys/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await program.GetAsync("api/v1/sessions")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await owner.DeleteAsync($"api/v1/auth/api-keys/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task ApiKey_OfAnotherUser_CannotBeRevoked()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var key = await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "k" }));
        using var other = Host.NewClient();
        await other.SignUpAsync();

        var response = await other.DeleteAsync($"api/v1/auth/api-keys/{key.GetProperty("id").GetGuid()}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task ApiKey_WithoutName_Returns400NamingName()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var response = await client.PostAsync("api/v1/auth/api-keys", new { name = "" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("name", out _), Is.True);
    }
}
