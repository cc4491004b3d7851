using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Moq;
using NUnit.Framework;
using static MeatLizard.Application.Tests.Admin.AdminHarness;

namespace MeatLizard.Application.Tests.Admin;

/// <summary>The first admin's commands (promote, demote, approve, reject, the sign-up policy), through the audit pipeline.</summary>
public class UserAdminCommandTests
{
    private AdminHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new AdminHarness();

    [TearDown]
    public void TearDown() => _h.Dispose();

    [Test]
    public void Demote_TheLastAdmin_IsRefused_UnchangedAndAuditedWithWhoTried()
    {
        var root = _h.Ports.Remember(new UserBuilder().Named("root").Build());
        root.PromoteToAdmin();
        _h.Ports.Users.Setup(u => u.CountAdminsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(1);

        Assert.That(async () => await _h.SendAsync(new DemoteUser(AnAdmin, "root")),
            Throws.InstanceOf<DomainException>().With.Message.Contains("last admin"));
        Assert.That(root.IsAdmin, Is.True);
        _h.Ports.Users.Verify(u => u.UpdateAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(_h.Audit.Single, Is.EqualTo(new AuditEntry(_h.Ports.Clock.UtcNow, AnAdmin.ToString(), "demote",
            "user=root", AuditOutcome.Refused, new LastAdminCannotBeDemotedRule(1).Message)));
    }

    [Test]
    public async Task Demote_OneOfTwoAdmins_MakesThemAUser()
    {
        var root = _h.Ports.Remember(new UserBuilder().Named("root").Build());
        root.PromoteToAdmin();
        _h.Ports.Users.Setup(u => u.CountAdminsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(2);

        var result = await _h.SendAsync(new DemoteUser(AnAdmin, root.Id.ToString()));

        Assert.That(result, Is.EqualTo(new AdminUserChangedDto(root.Id.Value, "root", "user", "active", true)));
        _h.Ports.Users.Verify(u => u.UpdateAsync(root, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Promote_ByTheCommandLine_IsAuditedAsTheOperator()
    {
        var bob = _h.Ports.Remember(new UserBuilder().Named("bob").Build());

        await _h.SendAsync(new PromoteUser(AdminActors.CommandLine, "bob"));

        Assert.That(bob.IsAdmin, Is.True);
        Assert.That(_h.Audit.Single.Actor, Does.StartWith("cli ("));
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Succeeded));
    }

    [Test]
    public void Promote_ByANonAdmin_IsRefusedBeforeAnything()
    {
        var bob = _h.Ports.Remember(new UserBuilder().Named("bob").Build());

        Assert.That(async () => await _h.SendAsync(new PromoteUser(NotAnAdmin, "bob")), Throws.TypeOf<AdminOnlyException>());
        Assert.That(bob.IsAdmin, Is.False);
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Refused));
    }

    [Test]
    public async Task Approve_AnAccountThatWaits_LetsItSignIn()
    {
        var bob = _h.Ports.Remember(User.Register(Username.From("bob"), "hash", Moments.T0, awaitsApproval: true));

        var result = await _h.SendAsync(new ApproveUser(AnAdmin, "bob"));

        Assert.That(result.Changed, Is.True);
        Assert.That(bob.AcceptsSignIn(bob.SecurityStamp, null), Is.True);
        _h.Ports.Users.Verify(u => u.UpdateAsync(bob, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public void Reject_AnActiveAccount_IsRefused_NothingDeleted()
    {
        _h.Ports.Remember(new UserBuilder().Named("bob").Build());

        Assert.That(async () => await _h.SendAsync(new RejectUser(AnAdmin, "bob")),
            Throws.InstanceOf<DomainException>().With.Property(nameof(DomainException.Field)).EqualTo("user"));
        _h.Ports.Users.Verify(u => u.DeleteAwaitingApprovalAsync(It.IsAny<UserId>(), It.IsAny<CancellationToken>()),
            Times.Never);
    }

    [Test]
    public async Task SetRegistrationPolicy_IsStoredInTheSettingsTableForEveryProcess()
    {
        var result = await _h.SendAsync(new SetRegistrationPolicy(AnAdmin, "inviteonly"));

        Assert.That(result.Policy, Is.EqualTo("inviteOnly"));
        Assert.That(await _h.Settings.GetAsync(SettingKeys.Registration, CancellationToken.None), Is.EqualTo("InviteOnly"));
    }

    [Test]
    public void SetRegistrationPolicy_Unknown_IsInvalidOnPolicy()
    {
        Assert.That(async () => await _h.SendAsync(new SetRegistrationPolicy(AnAdmin, "sometimes")),
            Throws.TypeOf<FluentValidation.ValidationException>().With.Message.Contains("open, approval, inviteOnly or closed"));
        Assert.That(_h.Audit.Single.Outcome, Is.EqualTo(AuditOutcome.Invalid));
    }
}
