using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// An admin's one-time password reset link, end to end on each database: it sets a new password once, ends the account's
/// sign-ins, is refused to others than admins, and only its use, never its code, is in the audit log.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class PasswordResetApiTests(string storage)
{
    private const string OldPassword = "correct horse battery";
    private const string NewPassword = "a brand new passphrase";

    private static async Task<string> UserIdAsync(ApiClient client) =>
        (await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/me"))).GetProperty("id").GetString()!;

    private static Task<HttpResponseMessage> ResetAsync(ApiClient client, string? code, string? newPassword) =>
        client.PostAsync("api/v1/auth/password-reset", new { code, newPassword });

    private static async Task<bool> NamesAsync(HttpResponseMessage response, string field) =>
        response.StatusCode == HttpStatusCode.BadRequest
        && (await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty(field, out _);

    [Test]
    public async Task AnAdminsLink_SetsANewPasswordOnce_EndsTheAccountsSignIns_AndIsAuditedWithoutItsCode()
    {
        await using var host = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        var admin = await host.FirstAdminAsync();
        using var bob = host.NewClient();
        var username = await bob.SignUpAsync(password: OldPassword);
        var id = await UserIdAsync(bob);

        var created = await admin.PostAsync($"api/v1/admin/users/{id}/password-reset", new { expiresInHours = 2 });
        var reset = await ApiClient.ReadAsync(created);
        var code = reset.GetProperty("code").GetString()!;
        using var stranger = host.NewClient();
        var tooShort = await ResetAsync(stranger, code, "short");
        var used = await ResetAsync(stranger, code, NewPassword);
        var again = await ResetAsync(stranger, code, "yet another passphrase");

        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(reset.GetProperty("username").GetString(), Is.EqualTo(username));
        Assert.That(reset.GetProperty("link").GetString(), Does.EndWith($"/?reset={Uri.EscapeDataString(code)}"));
        Assert.That(await NamesAsync(tooShort, "newPassword"), Is.True, "a password too short, the link not spent");
        Assert.That(used.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await ApiClient.ReadAsync(used)).GetProperty("username").GetString(), Is.EqualTo(username));
        Assert.That(await NamesAsync(again, "code"), Is.True, "used once");
        Assert.That((await bob.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized),
            "the account's sign-ins ended");
        Assert.That((await stranger.PostAsync("api/v1/auth/login", new { username, password = OldPassword })).StatusCode,
            Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await stranger.PostAsync("api/v1/auth/login", new { username, password = NewPassword })).StatusCode,
            Is.EqualTo(HttpStatusCode.OK));

        await using var scope = host.Services.CreateAsyncScope();
        var audit = await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(20, CancellationToken.None);
        var entry = audit.Single(a => a.Command == "password-reset");
        Assert.That(entry.Outcome, Is.EqualTo(AuditOutcome.Succeeded));
        Assert.That(JsonSerializer.Serialize(audit), Does.Not.Contain(code));
        Assert.That(entry.Arguments, Does.Contain(id));
    }

    [Test]
    public async Task ANewLink_ReplacesTheOneBefore_AndOnlyAdminsMakeThem_ForAccountsThatExist()
    {
        await using var host = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        var admin = await host.FirstAdminAsync();
        using var carol = host.NewClient();
        await carol.SignUpAsync(password: OldPassword);
        var id = await UserIdAsync(carol);

        var first = (await ApiClient.ReadAsync(await admin.PostAsync($"api/v1/admin/users/{id}/password-reset", null)))
            .GetProperty("code").GetString();
        var second = (await ApiClient.ReadAsync(await admin.PostAsync($"api/v1/admin/users/{id}/password-reset", null)))
            .GetProperty("code").GetString();
        var byCarol = await carol.PostAsync($"api/v1/admin/users/{id}/password-reset", null);
        var nobody = await admin.PostAsync($"api/v1/admin/users/{Guid.NewGuid()}/password-reset", null);
        var tooLong = await admin.PostAsync($"api/v1/admin/users/{id}/password-reset", new { expiresInHours = 10_000 });
        using var stranger = host.NewClient();

        Assert.That(await NamesAsync(await ResetAsync(stranger, first, NewPassword), "code"), Is.True, "replaced");
        Assert.That((await ResetAsync(stranger, second, NewPassword)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(byCarol.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(nobody.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await NamesAsync(tooLong, "expiresInHours"), Is.True);
        Assert.That(await NamesAsync(await ResetAsync(stranger, null, NewPassword), "code"), Is.True);
    }
}
