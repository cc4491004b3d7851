using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

public class UserTests
{
    [Test]
    public void Register_CreatesAnActiveUserWithoutPreferences()
    {
        var user = User.Register(Username.From("alice"), "hash", Moments.T0);

        Assert.That(user.Status, Is.EqualTo(UserStatus.Active));
        Assert.That(user.Role, Is.EqualTo(UserRole.User));
        Assert.That(user.IsAdmin, Is.False);
        Assert.That(user.Preferences, Is.EqualTo(UserPreferences.None));
        Assert.That(user.CreatedAt, Is.EqualTo(Moments.T0));
    }

    [Test]
    public void Register_AsAdmin_IsAdmin() =>
        Assert.That(User.Register(Username.From("root"), "hash", Moments.T0, UserRole.Admin).IsAdmin, Is.True);

    [TestCase(null)]
    [TestCase("")]
    public void Register_WithoutPasswordHash_IsInvalidPassword(string? hash) =>
        Assert.That(() => User.Register(Username.From("alice"), hash!, Moments.T0),
            Refused.As(DomainErrorKind.Invalid, "password"));

    [Test]
    public void Ban_ActiveUser_Bans()
    {
        var user = new UserBuilder().Build();

        Assert.That(user.Ban(), Is.True);

        Assert.That(user.IsBanned, Is.True);
    }

    [Test]
    public void Ban_Twice_SecondReturnsFalse_AndTheUserStaysBanned()
    {
        var user = new UserBuilder().Build();

        user.Ban();

        Assert.That(user.Ban(), Is.False);
        Assert.That(user.IsBanned, Is.True);
    }

    [Test]
    public void Unban_BannedUser_Activates()
    {
        var user = new UserBuilder().Banned().Build();

        Assert.That(user.Unban(), Is.True);

        Assert.That(user.Status, Is.EqualTo(UserStatus.Active));
    }

    [Test]
    public void Unban_ActiveUser_ReturnsFalse_AndChangesNothing()
    {
        var user = new UserBuilder().Build();

        Assert.That(user.Unban(), Is.False);

        Assert.That(user.Status, Is.EqualTo(UserStatus.Active));
    }

    [Test]
    public void EnsureCanAct_ActiveUser_Passes() =>
        Assert.That(() => new UserBuilder().Build().EnsureCanAct(), Throws.Nothing);

    [Test]
    public void EnsureCanAct_BannedUser_IsForbidden() =>
        Assert.That(() => new UserBuilder().Banned().Build().EnsureCanAct(),
            Throws.TypeOf<BusinessRuleViolationException>()
                .With.Property(nameof(DomainException.Kind)).EqualTo(DomainErrorKind.Forbidden)
                .And.Property(nameof(BusinessRuleViolationException.Rule)).InstanceOf<BannedUserCannotActRule>());

    [Test]
    public void EnsureCanAct_AfterUnban_Passes()
    {
        var user = new UserBuilder().Banned().Build();

        user.Unban();

        Assert.That(user.EnsureCanAct, Throws.Nothing);
    }

    [Test]
    public void BannedUser_CannotStartASession() =>
        Assert.That(() => Chat.Start(new UserBuilder().Banned().Build(), null, null, null, null, Moments.T0),
            Refused.As(DomainErrorKind.Forbidden));

    [Test]
    public void BannedUser_CannotPostInOwnSession()
    {
        var user = new UserBuilder().Banned().Build();
        var chat = new SessionBuilder().OwnedBy(user).Build();

        Assert.That(() => chat.PostUserMessage(user, PromptText.From("hi"), Moments.T0),
            Refused.As(DomainErrorKind.Forbidden));
    }

    [Test]
    public void BannedUser_CannotChangePreferences()
    {
        var user = new UserBuilder().Banned().Build();

        Assert.That(() => user.UpdatePreferences(new UserPreferences(ModelName.From("m"), null)),
            Refused.As(DomainErrorKind.Forbidden));
        Assert.That(user.Preferences, Is.EqualTo(UserPreferences.None));
    }

    [Test]
    public void BannedUser_CannotIssueAnApiKey() =>
        Assert.That(() => ApiKey.Issue(new UserBuilder().Banned().Build(), "ci", "abc", "hash", Moments.T0),
            Refused.As(DomainErrorKind.Forbidden));

    [Test]
    public void BannedUser_CannotChangePassword()
    {
        var user = new UserBuilder().WithPasswordHash("old").Banned().Build();

        Assert.That(() => user.ChangePasswordHash("new"), Refused.As(DomainErrorKind.Forbidden));
        Assert.That(user.PasswordHash, Is.EqualTo("old"));
    }

    [Test]
    public void BannedAdmin_CannotActEither() =>
        Assert.That(() => new UserBuilder().Admin().Banned().Build().EnsureCanAct(), Refused.As(DomainErrorKind.Forbidden));

    [Test]
    public void UpdatePreferences_ActiveUser_StoresThem()
    {
        var user = new UserBuilder().Build();
        var preferences = new UserPreferences(ModelName.From("llama"), SystemPrompt.FromOptional("Be brief."));

        user.UpdatePreferences(preferences);

        Assert.That(user.Preferences, Is.EqualTo(preferences));
    }

    [Test]
    public void ChangePasswordHash_ActiveUser_ReplacesIt()
    {
        var user = new UserBuilder().WithPasswordHash("old").Build();

        user.ChangePasswordHash("new");

        Assert.That(user.PasswordHash, Is.EqualTo("new"));
    }

    [Test]
    public void Register_GivesANonEmptySecurityStamp_ThatItsSignInsCarry()
    {
        var user = User.Register(Username.From("alice"), "hash", Moments.T0);

        Assert.That(user.SecurityStamp, Is.Not.Empty);
        Assert.That(user.AcceptsSignIn(user.SecurityStamp, "s1"), Is.True);
        Assert.That(user.AcceptsSignIn(null, "s1"), Is.False, "a credential from before stamps existed");
        Assert.That(user.AcceptsSignIn("other", "s1"), Is.False);
    }

    [Test]
    public void ChangePasswordHash_EndsEverySignInSession()
    {
        var user = User.Register(Username.From("alice"), "hash", Moments.T0);
        var stamp = user.SecurityStamp;

        user.ChangePasswordHash("new");

        Assert.That(user.AcceptsSignIn(stamp, "s1"), Is.False);
        Assert.That(user.AcceptsSignIn(user.SecurityStamp, "s1"), Is.True);
    }

    [Test]
    public void Ban_EndsEverySignInSession_AndUnbanDoesNotBringThemBack()
    {
        var user = User.Register(Username.From("alice"), "hash", Moments.T0);
        var stamp = user.SecurityStamp;

        user.Ban();
        var whileBanned = user.AcceptsSignIn(user.SecurityStamp, "s1");
        user.Unban();

        Assert.That(whileBanned, Is.False);
        Assert.That(user.AcceptsSignIn(stamp, "s1"), Is.False);
    }

    [Test]
    public void AnEndedSession_IsRefused_AndOnlyThatOne()
    {
        var user = User.Restore(UserId.New(), Username.From("alice"), "hash", UserRole.User, UserStatus.Active,
            UserPreferences.None, Moments.T0, "stamp", ["ended"]);

        Assert.That(user.AcceptsSignIn("stamp", "ended"), Is.False);
        Assert.That(user.AcceptsSignIn("stamp", "live"), Is.True);
    }

    [Test]
    public void ChangePasswordHash_Empty_IsInvalidAndKeepsTheOldOne()
    {
        var user = new UserBuilder().WithPasswordHash("old").Build();

        Assert.That(() => user.ChangePasswordHash(""), Refused.As(DomainErrorKind.Invalid, "password"));
        Assert.That(user.PasswordHash, Is.EqualTo("old"));
    }

    [Test]
    public void PromoteToAdmin_MakesTheUserAdmin()
    {
        var user = new UserBuilder().Build();

        user.PromoteToAdmin();

        Assert.That(user.IsAdmin, Is.True);
    }
}

public class ApiKeyTests
{
    [Test]
    public void Issue_TrimsTheName_AndKeepsPrefixAndHash()
    {
        var owner = new UserBuilder().Build();

        var key = ApiKey.Issue(owner, "  ci bot  ", "a1b2c3", "sha", Moments.T0);

        Assert.That(key.Name, Is.EqualTo("ci bot"));
        Assert.That(key.OwnerId, Is.EqualTo(owner.Id));
        Assert.That(key.Prefix, Is.EqualTo("a1b2c3"));
        Assert.That(key.SecretHash, Is.EqualTo("sha"));
        Assert.That(key.CreatedAt, Is.EqualTo(Moments.T0));
        Assert.That(key.IsRevoked, Is.False);
        Assert.That(key.LastUsedAt, Is.Null);
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("   ")]
    public void Issue_WithoutName_IsInvalidName(string? name) =>
        Assert.That(() => ApiKey.Issue(new UserBuilder().Build(), name, "p", "h", Moments.T0),
            Refused.As(DomainErrorKind.Invalid, "name"));

    [Test]
    public void Issue_NameAtMaxLength_IsAccepted() =>
        Assert.That(ApiKey.Issue(new UserBuilder().Build(), new string('k', ApiKey.MaxNameLength), "p", "h", Moments.T0)
            .Name, Has.Length.EqualTo(100));

    [Test]
    public void Issue_NameOverMaxLength_IsInvalidName() =>
        Assert.That(() => ApiKey.Issue(new UserBuilder().Build(), new string('k', 101), "p", "h", Moments.T0),
            Refused.As(DomainErrorKind.Invalid, "name"));

    [Test]
    public void Revoke_MarksTheKeyRevoked()
    {
        var key = ApiKey.Issue(new UserBuilder().Build(), "ci", "p", "h", Moments.T0);

        key.Revoke(Moments.At(10));

        Assert.That(key.IsRevoked, Is.True);
        Assert.That(key.RevokedAt, Is.EqualTo(Moments.At(10)));
    }

    [Test]
    public void Revoke_Twice_KeepsTheFirstRevocationTime()
    {
        var key = ApiKey.Issue(new UserBuilder().Build(), "ci", "p", "h", Moments.T0);

        key.Revoke(Moments.At(10));
        key.Revoke(Moments.At(20));

        Assert.That(key.RevokedAt, Is.EqualTo(Moments.At(10)));
    }

    [Test]
    public void MarkUsed_RecordsTheTime()
    {
        var key = ApiKey.Issue(new UserBuilder().Build(), "ci", "p", "h", Moments.T0);

        key.MarkUsed(Moments.At(30));

        Assert.That(key.LastUsedAt, Is.EqualTo(Moments.At(30)));
    }
}

public class FirstAdminAndSignUpTests
{
    private static readonly DateTimeOffset Now = Moments.T0;

    [Test]
    public void EnsureDeletable_TheLastAdmin_IsRefused_AnotherAdminOrAUserMayGo()
    {
        var root = User.Register(Username.From("root"), "hash", Now, UserRole.Admin);
        var user = User.Register(Username.From("alice"), "hash", Now);

        Assert.That(() => root.EnsureDeletable(admins: 1),
            Throws.TypeOf<BusinessRuleViolationException>().With.Property("Rule").TypeOf<LastAdminCannotBeDeletedRule>());
        Assert.DoesNotThrow(() => root.EnsureDeletable(admins: 2));
        Assert.DoesNotThrow(() => user.EnsureDeletable(admins: 1));
    }

    [Test]
    public void DemoteFromAdmin_TheLastAdmin_IsRefused()
    {
        var root = User.Register(Username.From("root"), "hash", Now, UserRole.Admin);

        Assert.That(() => root.DemoteFromAdmin(admins: 1),
            Throws.TypeOf<BusinessRuleViolationException>().With.Property("Rule").TypeOf<LastAdminCannotBeDemotedRule>());
        Assert.That(root.IsAdmin, Is.True);
        Assert.That(root.DemoteFromAdmin(admins: 2), Is.True);
        Assert.That(root.IsAdmin, Is.False);
    }

    [Test]
    public void AccountAwaitingApproval_CannotSignIn_UntilApproved()
    {
        var bob = User.Register(Username.From("bob"), "hash", Now, awaitsApproval: true);

        Assert.That(bob.AcceptsSignIn(bob.SecurityStamp, null), Is.False);
        Assert.That(() => bob.EnsureCanAct(), Throws.InstanceOf<DomainException>()
            .With.Property(nameof(DomainException.Kind)).EqualTo(DomainErrorKind.Forbidden));

        Assert.That(bob.Approve(), Is.True);
        Assert.That(bob.AcceptsSignIn(bob.SecurityStamp, null), Is.True);
        Assert.That(bob.Approve(), Is.False);
    }

    [Test]
    public void Invite_IsUsedOnce()
    {
        var invite = Invite.Create("hash", "user:1 (alice)", Now, TimeSpan.FromHours(1));
        invite.Use(UserId.New(), Now);

        Assert.That(() => invite.Use(UserId.New(), Now),
            Throws.TypeOf<BusinessRuleViolationException>().With.Property("Rule").TypeOf<InviteIsUsedOnceRule>());
    }

    [Test]
    public void Invite_Expires()
    {
        var invite = Invite.Create("hash", "user:1 (alice)", Now, TimeSpan.FromHours(1));

        Assert.That(() => invite.Use(UserId.New(), Now + TimeSpan.FromHours(1)),
            Throws.TypeOf<BusinessRuleViolationException>().With.Property("Rule").TypeOf<InviteMustNotBeExpiredRule>());
        Assert.That(invite.IsUsed, Is.False);
    }

    [Test]
    public void Invite_Revoked_CannotBeUsed()
    {
        var invite = Invite.Create("hash", "user:1 (alice)", Now, TimeSpan.FromHours(1));
        Assert.That(invite.Revoke(Now), Is.True);

        Assert.That(() => invite.Use(UserId.New(), Now), Throws.TypeOf<BusinessRuleViolationException>());
    }

    [Test]
    public void SignUp_WhileThereIsNoAdmin_OnlyTheSetupTokenMakesTheAdmin_AnyoneElseGetsAnOrdinaryAccount()
    {
        var facts = new SignUpFacts(RegistrationPolicy.Open, HasAdmin: false);
        Assert.That(SignUp.Decide(facts, SignUpPass.None, SignUpPass.None, Now).Role, Is.EqualTo(UserRole.User));

        var setup = Invite.ForSetup("hash", Now);
        Assert.That(SignUp.Decide(facts, new SignUpPass(true, setup), SignUpPass.None, Now).Role, Is.EqualTo(UserRole.Admin));
    }

    [Test]
    public void SignUp_TheSetupTokenOnceThereIsAnAdmin_IsAConflict()
    {
        var setup = Invite.ForSetup("hash", Now);

        Assert.That(() => SignUp.Decide(new SignUpFacts(RegistrationPolicy.Open, true), new SignUpPass(true, setup),
                SignUpPass.None, Now),
            Throws.InstanceOf<DomainException>().With.Property(nameof(DomainException.Kind)).EqualTo(DomainErrorKind.Conflict));
    }

    [TestCase(RegistrationPolicy.Closed)]
    [TestCase(RegistrationPolicy.InviteOnly)]
    public void SignUp_ClosedOrByInvitation_WithoutAnInvite_IsForbidden(RegistrationPolicy policy)
    {
        Assert.That(() => SignUp.Decide(new SignUpFacts(policy, true), SignUpPass.None, SignUpPass.None, Now),
            Throws.InstanceOf<DomainException>().With.Property(nameof(DomainException.Kind)).EqualTo(DomainErrorKind.Forbidden));
    }

    [Test]
    public void SignUp_AnInviteCannotMakeAnAdmin_NorASetupTokenPassAsAnInvite()
    {
        var facts = new SignUpFacts(RegistrationPolicy.InviteOnly, true);
        var setup = Invite.ForSetup("hash", Now);

        Assert.That(() => SignUp.Decide(facts, SignUpPass.None, new SignUpPass(true, setup), Now),
            Throws.InstanceOf<DomainException>().With.Property(nameof(DomainException.Field)).EqualTo("inviteCode"));
        var invite = Invite.Create("other", "user:1 (alice)", Now, TimeSpan.FromHours(1));
        Assert.That(SignUp.Decide(facts, SignUpPass.None, new SignUpPass(true, invite), Now),
            Is.EqualTo(new SignUpTerms(UserRole.User, false, invite)));
    }
}
