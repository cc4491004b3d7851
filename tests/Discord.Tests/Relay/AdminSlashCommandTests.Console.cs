using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Auth.Queries;
using MeatLizard.Presentation.DiscordServer.Commands;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// The web console's account, invite, sign-up and audit commands in Discord (issue 37): each sends the console's own
/// command, answers only the admin, refuses members clearly and is audited as the Discord admin.
/// </summary>
public sealed partial class AdminSlashCommandTests
{
    private Task<string> InvokeSubcommandAsync(bool admin, string name, string subcommand, params (string Name, JsonNode Value)[] options) =>
        Bots.Fake.InvokeCommandAsync(Bots.ServerBot, _channel, admin ? "42" : "43", admin, name,
            [new JsonObject { ["name"] = subcommand, ["type"] = 1, ["options"] = Options(options) }]);

    private async Task<string> ContentAsync(Task<string> invoked) => (await AnswerAsync(await invoked)).Content;

    private async Task<bool> UserExistsAsync(string username)
    {
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IUserRepository>().GetByUsernameAsync(username, CancellationToken.None) is not null;
    }

    [Test]
    public async Task DeleteUser_NeedsConfirm_ThenDeletesTheAccount_DeferredAndOnlyForTheAdmin_AndIsAudited()
    {
        await StartAsync(withWorker: false);
        await Bots.SendAsync(new RegisterUser("hank", "correct horse battery"));

        var unconfirmed = await ContentAsync(InvokeAsync(admin: true, "delete-user", ("user", "hank"), ("confirm", false)));
        var stillThere = await UserExistsAsync("hank");
        var byMember = await ContentAsync(InvokeAsync(admin: false, "delete-user", ("user", "hank"), ("confirm", true)));
        var (first, deleted) = await AnswerAsync(await InvokeAsync(admin: true, "delete-user", ("user", "hank"), ("confirm", true)));
        var nobody = await ContentAsync(InvokeAsync(admin: true, "delete-user", ("user", "nobody"), ("confirm", true)));
        var gone = !await UserExistsAsync("hank");
        var audit = (await AuditAsync()).Where(a => a.Command == "delete user").Reverse()
            .Select(a => (a.Actor, a.Arguments, a.Outcome));

        Assert.Multiple(() =>
        {
            Assert.That(unconfirmed, Is.EqualTo(AdminSlashCommands.NotConfirmed));
            Assert.That(stillThere, Is.True, "without confirm: True nothing is deleted");
            Assert.That(byMember, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(5), "deferred: deleting files may take a while");
            Assert.That(first["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64), "only the admin sees it");
            Assert.That(deleted, Is.EqualTo("hank is now deleted, with all of their chats, messages and files."));
            Assert.That(gone, Is.True);
            Assert.That(nobody, Is.EqualTo("/delete-user: There is no user named nobody."));
            Assert.That(audit, Is.EqualTo(new (string, string?, AuditOutcome)[]
            {
                ("discord:43 (someone)", "user=hank", AuditOutcome.Refused),
                ("discord:42 (someone)", "user=hank", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "user=nobody", AuditOutcome.Refused),
            }), "the unconfirmed one sent no command");
        });
    }

    [Test]
    public async Task Registration_ShowsAndSetsTheSignUpPolicy_AMemberIsRefused()
    {
        await StartAsync(withWorker: false);

        var shown = await ContentAsync(InvokeAsync(admin: true, "registration"));
        var set = await ContentAsync(InvokeAsync(admin: true, "registration", ("policy", "approval")));
        var read = await Bots.SendAsync(new GetRegistration());
        var memberReads = await ContentAsync(InvokeAsync(admin: false, "registration"));
        var memberSets = await ContentAsync(InvokeAsync(admin: false, "registration", ("policy", "open")));
        var invalid = await ContentAsync(InvokeAsync(admin: true, "registration", ("policy", "sometimes")));
        var after = await Bots.SendAsync(new GetRegistration());
        var audit = (await AuditAsync()).Where(a => a.Command == "registration").Reverse().Select(a => (a.Actor, a.Arguments, a.Outcome));

        Assert.Multiple(() =>
        {
            Assert.That(shown, Is.EqualTo("Sign-up is **open**: anyone may register."));
            Assert.That(set, Is.EqualTo("Sign-up is now **approval**: new accounts wait until an admin approves them (/approve)."));
            Assert.That(read.Policy, Is.EqualTo("approval"), "what the sign-in page shows");
            Assert.That(memberReads, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(memberSets, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(invalid, Is.EqualTo("/registration: The registration policy is open, approval, inviteOnly or closed."));
            Assert.That(after.Policy, Is.EqualTo("approval"));
            Assert.That(audit, Is.EqualTo(new (string, string?, AuditOutcome)[]
            {
                ("discord:42 (someone)", "policy=approval", AuditOutcome.Succeeded),
                ("discord:43 (someone)", "policy=open", AuditOutcome.Refused),
                ("discord:42 (someone)", "policy=sometimes", AuditOutcome.Invalid),
            }));
        });
    }

    /// <summary>
    /// /invite create gives the admin alone a link that registers one account while sign-up is by invitation; /invite
    /// list shows its state; /invite revoke withdraws an unused one. Never is the code in the audit log.
    /// </summary>
    [Test]
    public async Task Invites_CreateListAndRevoke_AreTheConsolesCommands_AndTheCodeIsNeverAudited()
    {
        await StartAsync(withWorker: false);
        await AnswerAsync(await InvokeAsync(admin: true, "registration", ("policy", "inviteOnly")));

        var (first, created) = await AnswerAsync(await InvokeSubcommandAsync(admin: true, "invite", "create", ("hours", 2)));
        var (usedId, usedCode) = Invite(created);
        var registered = await Bots.SendAsync(new RegisterUser("ivy", "correct horse battery", InviteCode: usedCode));
        var (revokedId, revokedCode) = Invite(await ContentAsync(InvokeSubcommandAsync(admin: true, "invite", "create")));
        var revoked = await ContentAsync(InvokeSubcommandAsync(admin: true, "invite", "revoke", ("id", revokedId.ToString())));
        var again = await ContentAsync(InvokeSubcommandAsync(admin: true, "invite", "revoke", ("id", revokedId.ToString())));
        var unknown = await ContentAsync(InvokeSubcommandAsync(admin: true, "invite", "revoke", ("id", "not-an-id")));
        var listed = await ContentAsync(InvokeSubcommandAsync(admin: true, "invite", "list"));
        var byMember = await ContentAsync(InvokeSubcommandAsync(admin: false, "invite", "create"));
        var tooLong = await ContentAsync(InvokeSubcommandAsync(admin: true, "invite", "create", ("hours", 100_000)));
        var audit = (await AuditAsync()).Where(a => a.Command.StartsWith("invite", StringComparison.Ordinal)).Reverse().ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(first["type"]!.GetValue<int>(), Is.EqualTo(4));
            Assert.That(first["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64), "only the admin sees the link");
            Assert.That(created, Does.StartWith($"Invite link `{usedId:D}`, registers one account until "));
            Assert.That(registered.Username, Is.EqualTo("ivy"), "the link registers an account");
            Assert.That(async () => await Bots.SendAsync(new RegisterUser("jack", "correct horse battery", InviteCode: revokedCode)),
                Throws.Exception, "a revoked invite registers nobody");
            Assert.That(revoked, Is.EqualTo($"Invite `{revokedId:D}` is revoked: its link registers nobody from now on."));
            Assert.That(again, Is.EqualTo($"Invite `{revokedId:D}` was used or revoked already."));
            Assert.That(unknown, Is.EqualTo("/invite revoke: There is no invite with this id."));
            Assert.That(listed, Does.StartWith("**2 invite(s)**, newest first"));
            Assert.That(listed, Does.Contain($"`{revokedId:D}` **revoked**").And.Contain($"`{usedId:D}` **used**"));
            Assert.That(listed, Does.Not.Contain(usedCode).And.Not.Contain(revokedCode), "codes are shown once, never listed");
            Assert.That(byMember, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(tooLong, Is.EqualTo("/invite create: An invite lasts from 1 to 720 hours."));
            Assert.That(audit.Select(a => (a.Actor, a.Command, a.Outcome)), Is.EqualTo(new (string, string, AuditOutcome)[]
            {
                ("discord:42 (someone)", "invite", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "invite", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "invite revoke", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "invite revoke", AuditOutcome.Succeeded),
                ("discord:42 (someone)", "invite revoke", AuditOutcome.Refused),
                ("discord:42 (someone)", "invites", AuditOutcome.Succeeded),
                ("discord:43 (someone)", "invite", AuditOutcome.Refused),
                ("discord:42 (someone)", "invite", AuditOutcome.Invalid),
            }));
            Assert.That(System.Text.Json.JsonSerializer.Serialize(audit), Does.Not.Contain(usedCode).And.Not.Contain(revokedCode));
        });
    }

    private static (Guid Id, string Code) Invite(string answer)
    {
        var match = Regex.Match(answer, @"^Invite link `([0-9a-f-]{36})`.*https://chat\.example/\?invite=(\S+)", RegexOptions.Singleline);
        Assert.That(match.Success, Is.True, answer);
        return (Guid.Parse(match.Groups[1].Value), Uri.UnescapeDataString(match.Groups[2].Value));
    }

    /// <summary>
    /// /audit reads the log newest first, filtered by action; a long page is cut to what one message holds and says
    /// how to read on, so walking the pages shows every entry once, in order.
    /// </summary>
    [Test]
    public async Task Audit_PagesTheLogWithinOneMessage_FilteredByAction_EveryEntryOnceInOrder()
    {
        await StartAsync(withWorker: false);
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            var log = scope.ServiceProvider.GetRequiredService<IAuditLog>();
            for (var i = 0; i < 30; i++)
            {
                await log.AppendAsync(new AuditEntry(DateTimeOffset.UtcNow, "test:7 (filler)", "filler",
                    $"n={i:00} " + new string('x', 150), AuditOutcome.Succeeded, null), CancellationToken.None);
            }
        }

        await AnswerAsync(await InvokeAsync(admin: true, "ban", ("user", "nobody")));

        var (first, latest) = await AnswerAsync(await InvokeAsync(admin: true, "audit", ("count", 1)));
        var pages = new List<string>();
        (string Name, JsonNode Value)[] options = [("action", "filler"), ("count", 30)];
        while (pages.Count < 10)
        {
            var page = await ContentAsync(InvokeAsync(admin: true, "audit", options));
            pages.Add(page);
            var next = Regex.Match(page, @"Older: `/audit before:(\d+) action:filler`$");
            if (!next.Success)
            {
                break;
            }

            options = [("action", "filler"), ("count", 30), ("before", int.Parse(next.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];
        }

        var shown = pages.SelectMany(p => Regex.Matches(p, @"n=(\d\d) ").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        var byMember = await ContentAsync(InvokeAsync(admin: false, "audit"));
        var badCount = await ContentAsync(InvokeAsync(admin: true, "audit", ("count", 0)));

        Assert.Multiple(() =>
        {
            Assert.That(first["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64));
            Assert.That(latest, Does.StartWith("**Audit log**, newest first"));
            Assert.That(latest, Does.Contain("· discord:42 (someone) · **ban** user=nobody · refused — There is no user named nobody."));
            Assert.That(latest, Does.Not.Contain("filler"), "one entry: the newest");
            Assert.That(latest, Does.Match(@"Older: `/audit before:\d+`$"));
            Assert.That(pages, Has.Count.GreaterThan(1), "30 long entries do not fit one message");
            Assert.That(pages.Select(p => p.Length), Is.All.LessThanOrEqualTo(2000));
            Assert.That(pages[0], Does.StartWith("**Audit log**, newest first · action:filler"));
            Assert.That(pages[^1], Does.EndWith("That is the oldest entry."));
            Assert.That(shown, Is.EqualTo(Enumerable.Range(0, 30).Reverse()), "every entry once, newest first");
            Assert.That(byMember, Is.EqualTo(DiscordAdminCommands.NotAdmin));
            Assert.That(badCount, Is.EqualTo("/audit: A page holds 1 to 200 rows."));
        });
    }
}
