using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Presentation.Api;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The first admin (the setup link), the sign-up policy and the admin endpoints, end to end on each database. Each
/// test starts its own platform: the policy it sets holds for the whole database.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class FirstAdminApiTests(string storage)
{
    private const string Password = "correct horse battery";

    private async Task<ApiHost> StartAsync(bool firstAdmin = true) =>
        await new ApiHost(withEngine: false, storage: storage, firstAdmin: firstAdmin).StartAsync();

    private static Task<HttpResponseMessage> RegisterAsync(ApiClient client, string username, string? inviteCode = null,
        string? setupToken = null) =>
        client.PostAsync("api/v1/auth/register", new { username, password = Password, inviteCode, setupToken });

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response) => await ApiClient.ReadAsync(response);

    [Test]
    public async Task EmptyPlatform_OnlyTheSetupLinkMakesTheAdmin_AnEarlierAccountIsOrdinary_AndTheLinkWorksOnce()
    {
        await using var host = await StartAsync(firstAdmin: false);
        using var client = host.NewClient();
        var before = await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/registration"));

        var early = await RegisterAsync(client, "early_bird");
        var token = (await host.SetupTokenAsync())!;
        var admin = await RegisterAsync(client, "root", setupToken: token);
        var again = await RegisterAsync(client, "second_root", setupToken: token);
        var after = await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/registration"));
        var ordinary = await RegisterAsync(client, "alice");

        Assert.That(before.GetProperty("adminSetUp").GetBoolean(), Is.False);
        Assert.That(early.StatusCode, Is.EqualTo(HttpStatusCode.Created), "registering first makes nobody admin");
        Assert.That((await ApiClient.ReadAsync(early)).GetProperty("role").GetString(), Is.EqualTo("user"));
        Assert.That(admin.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That((await ApiClient.ReadAsync(admin)).GetProperty("role").GetString(), Is.EqualTo("admin"));
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "there is an admin now");
        Assert.That((await ProblemAsync(again)).GetProperty("errors").TryGetProperty("setupToken", out _), Is.True);
        Assert.That(after.GetProperty("adminSetUp").GetBoolean(), Is.True);
        Assert.That(ordinary.StatusCode, Is.EqualTo(HttpStatusCode.Created), "open registration once an admin exists");
        Assert.That((await ApiClient.ReadAsync(ordinary)).GetProperty("role").GetString(), Is.EqualTo("user"));
    }

    [Test]
    public async Task UpgradedDatabase_WithUsersButNoAdmin_LocksNobodyOut_AndTheSetupLinkStillMakesTheAdmin()
    {
        await using var host = await StartAsync(firstAdmin: false);
        await using (var scope = host.Services.CreateAsyncScope())
        {
            // An account from before admins existed, as migration 0027 leaves it.
            var hasher = scope.ServiceProvider.GetRequiredService<IPasswordHasher>();
            await scope.ServiceProvider.GetRequiredService<IUserRepository>().AddAsync(MeatLizard.Domain.Users.User.Register(
                MeatLizard.Domain.Common.Username.From("oldtimer"), hasher.Hash(Password), DateTimeOffset.UtcNow),
                CancellationToken.None);
        }

        using var oldtimer = host.NewClient();
        using var client = host.NewClient();
        var signIn = await oldtimer.PostAsync("api/v1/auth/login", new { username = "oldtimer", password = Password });
        var newcomer = await RegisterAsync(client, "newcomer");
        var admin = await RegisterAsync(client, "root", setupToken: await host.SetupTokenAsync());

        Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(newcomer.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That((await ApiClient.ReadAsync(admin)).GetProperty("role").GetString(), Is.EqualTo("admin"));
    }

    [Test]
    public async Task Approval_ANewAccountWaits_CannotSignIn_UntilAnAdminApprovesIt_AndTheApprovalIsAudited()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();
        using var bob = host.NewClient();

        var set = await admin.Http.PutAsync("api/v1/admin/registration",
            System.Net.Http.Json.JsonContent.Create(new { policy = "approval" }));
        var shown = await ApiClient.ReadAsync(await bob.GetAsync("api/v1/auth/registration"));
        var registered = await ApiClient.ReadAsync(await RegisterAsync(bob, "bob"));
        var early = await bob.PostAsync("api/v1/auth/login", new { username = "bob", password = Password });
        var pending = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/users?awaitingApproval=true"));
        var approved = await admin.PostAsync($"api/v1/admin/users/{registered.GetProperty("id").GetGuid()}/approve", null);
        var later = await bob.PostAsync("api/v1/auth/login", new { username = "bob", password = Password });

        Assert.That(set.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(shown.GetProperty("policy").GetString(), Is.EqualTo("approval"));
        Assert.That(registered.GetProperty("awaitingApproval").GetBoolean(), Is.True);
        Assert.That(early.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ProblemAsync(early)).GetProperty("detail").GetString(), Does.Contain("waiting for an admin's approval"));
        Assert.That(pending.EnumerateArray().Select(u => u.GetProperty("username").GetString()), Is.EqualTo(new[] { "bob" }));
        Assert.That(approved.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(later.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await using var scope = host.Services.CreateAsyncScope();
        var audit = await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(10, CancellationToken.None);
        Assert.That(audit.Select(a => (a.Command, a.Outcome)), Does.Contain(("approve", AuditOutcome.Succeeded)));
        Assert.That(audit.Single(a => a.Command == "approve").Actor, Does.StartWith("user:").And.EndWith("(operator)"));
    }

    [Test]
    public async Task InviteOnly_AnInviteRegistersOneAccount_ARevokedOneNone()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();
        using var guest = host.NewClient();
        await admin.Http.PutAsync("api/v1/admin/registration", System.Net.Http.Json.JsonContent.Create(new { policy = "inviteOnly" }));

        var uninvited = await RegisterAsync(guest, "carol");
        var created = await admin.PostAsync("api/v1/admin/invites", new { expiresInHours = 2 });
        var invite = await ApiClient.ReadAsync(created);
        var code = invite.GetProperty("code").GetString()!;
        var first = await RegisterAsync(guest, "carol", inviteCode: code);
        var second = await RegisterAsync(guest, "dave", inviteCode: code);
        var revokedCode = (await ApiClient.ReadAsync(await admin.PostAsync("api/v1/admin/invites", new { })));
        var revoke = await admin.DeleteAsync($"api/v1/admin/invites/{revokedCode.GetProperty("id").GetGuid()}");
        var withRevoked = await RegisterAsync(guest, "erin", inviteCode: revokedCode.GetProperty("code").GetString());
        var list = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/invites"));

        Assert.That(uninvited.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ProblemAsync(uninvited)).GetProperty("errors").TryGetProperty("inviteCode", out _), Is.True);
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(invite.GetProperty("link").GetString(), Does.EndWith("/?invite=" + Uri.EscapeDataString(code)));
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ProblemAsync(second)).GetProperty("detail").GetString(), Does.Contain("used already"));
        Assert.That(revoke.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(withRevoked.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(list.EnumerateArray().Select(i => i.GetProperty("state").GetString()), Is.EqualTo(new[] { "revoked", "used" }));
        Assert.That(list.GetRawText(), Does.Not.Contain(code), "codes are shown once, never listed");
    }

    [Test]
    public async Task AdminEndpoints_AreForbiddenToOthers_TheLastAdminStays_AndBadInputNamesTheField()
    {
        await using var host = await StartAsync();
        var admin = await host.FirstAdminAsync();
        using var user = host.NewClient();
        await user.SignUpAsync("mallory");
        var adminId = (await ApiClient.ReadAsync(await admin.GetAsync("api/v1/auth/me"))).GetProperty("id").GetString();
        var userId = (await ApiClient.ReadAsync(await user.GetAsync("api/v1/auth/me"))).GetProperty("id").GetString();

        var listByUser = await user.GetAsync("api/v1/admin/users");
        var promoteByUser = await user.PostAsync($"api/v1/admin/users/{userId}/promote", null);
        var demoteLast = await admin.PostAsync($"api/v1/admin/users/{adminId}/demote", null);
        var badPolicy = await admin.Http.PutAsync("api/v1/admin/registration",
            System.Net.Http.Json.JsonContent.Create(new { policy = "sometimes" }));
        var badHours = await admin.PostAsync("api/v1/admin/invites", new { expiresInHours = 0 });
        var unknown = await admin.PostAsync($"api/v1/admin/users/{Guid.NewGuid()}/promote", null);
        var promote = await admin.PostAsync($"api/v1/admin/users/{userId}/promote", null);
        var demoteSelf = await admin.PostAsync($"api/v1/admin/users/{adminId}/demote", null);

        Assert.That(listByUser.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(promoteByUser.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(demoteLast.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ProblemAsync(demoteLast)).GetProperty("detail").GetString(), Does.Contain("last admin"));
        Assert.That(badPolicy.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ProblemAsync(badPolicy)).GetProperty("errors").TryGetProperty("policy", out _), Is.True);
        Assert.That(badHours.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ProblemAsync(badHours)).GetProperty("errors").TryGetProperty("expiresInHours", out _), Is.True);
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(promote.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(demoteSelf.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another admin is left");
        Assert.That((await admin.GetAsync("api/v1/admin/users")).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden),
            "a demoted admin is refused at once, whatever an older token says");
    }

    [Test]
    public async Task Closed_NobodyRegisters_AndTheSignInPageIsToldSo()
    {
        await using var host = await StartAsync();
        await (await host.FirstAdminAsync()).Http.PutAsync("api/v1/admin/registration",
            System.Net.Http.Json.JsonContent.Create(new { policy = "closed" }));
        using var client = host.NewClient();

        var refused = await RegisterAsync(client, "zed");

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await ProblemAsync(refused)).GetProperty("detail").GetString(), Does.Contain("closed"));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/registration"))).GetProperty("policy")
            .GetString(), Is.EqualTo("closed"));
    }

    /// <summary>
    /// The API host's command line (issue 37 item 1: "a CLI verb can also make or promote an admin"): <c>admin promote</c>
    /// makes a web account an admin on a platform with none, <c>admin demote</c> undoes it but never for the last admin,
    /// <c>admin setup-link</c> is refused once an admin exists; each runs the console's command, audited as <c>cli</c>.
    /// </summary>
    [Test]
    public async Task TheCommandLine_PromotesAndDemotesWebAdmins_NeverTheLastOne_AuditedAsTheCli()
    {
        await using var host = await StartAsync(firstAdmin: false);
        using var dora = host.NewClient();
        using var eve = host.NewClient();
        await dora.SignUpAsync("dora");
        await eve.SignUpAsync("eve");
        var output = new StringWriter();
        var error = new StringWriter();
        Task<int> VerbAsync(params string[] args) => AdminCommandLine.RunAsync(args, host.Services, null, output, error);

        var before = (await dora.GetAsync("api/v1/admin/users")).StatusCode;
        var promoted = await VerbAsync("admin", "promote", "dora");
        var asAdmin = (await dora.GetAsync("api/v1/admin/users")).StatusCode;
        var setupLink = await VerbAsync("admin", "setup-link");
        var demoteLast = await VerbAsync("admin", "demote", "dora");
        var nobody = await VerbAsync("admin", "promote", "nobody");
        var second = await VerbAsync("admin", "promote", "eve");
        var demoted = await VerbAsync("admin", "demote", "dora");
        var afterDemotion = (await dora.GetAsync("api/v1/admin/users")).StatusCode;
        var eveReads = (await eve.GetAsync("api/v1/admin/users")).StatusCode;
        await using var scope = host.Services.CreateAsyncScope();
        var audit = (await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None))
            .Where(a => a.Command is "promote" or "demote").Reverse().ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(before, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That((promoted, setupLink, demoteLast, nobody, second, demoted), Is.EqualTo((0, 1, 1, 1, 0, 0)));
            Assert.That(asAdmin, Is.EqualTo(HttpStatusCode.OK), "promoted from the command line, dora uses the console");
            Assert.That(output.ToString(), Does.Contain("dora is an admin now.").And.Contain("dora is no longer an admin."));
            Assert.That(error.ToString(), Does.Contain("There is an admin already").And.Contain("last admin")
                .And.Contain("There is no user named nobody."));
            Assert.That(afterDemotion, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(eveReads, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(audit.Select(a => (a.Command, a.Arguments, a.Outcome)), Is.EqualTo(new (string, string?, AuditOutcome)[]
            {
                ("promote", "user=dora", AuditOutcome.Succeeded), ("demote", "user=dora", AuditOutcome.Refused),
                ("promote", "user=nobody", AuditOutcome.Refused), ("promote", "user=eve", AuditOutcome.Succeeded),
                ("demote", "user=dora", AuditOutcome.Succeeded),
            }));
            Assert.That(audit.Select(a => a.Actor), Is.All.StartWith("cli ("));
        });
    }
}
