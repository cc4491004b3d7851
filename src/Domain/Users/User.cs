using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Users;

public enum UserRole
{
    User,
    Admin,
}

public enum UserStatus
{
    Active,
    Banned,

    /// <summary>Registered while sign-up needs an admin's approval: cannot sign in until approved.</summary>
    AwaitingApproval,
}

/// <summary>Defaults a user chose for new chats.</summary>
public sealed record UserPreferences(ModelName? DefaultModel, SystemPrompt? SystemPrompt)
{
    public static readonly UserPreferences None = new(null, null);
}

public sealed class User : Entity<UserId>
{
    private User(
        UserId id, Username username, string passwordHash, UserRole role, UserStatus status,
        UserPreferences preferences, DateTimeOffset createdAt, string securityStamp, IReadOnlySet<string> endedSessions)
        : base(id)
    {
        Username = username;
        PasswordHash = passwordHash;
        Role = role;
        Status = status;
        Preferences = preferences;
        CreatedAt = createdAt;
        SecurityStamp = securityStamp;
        EndedSessions = endedSessions;
    }

    public Username Username { get; }

    public string PasswordHash { get; private set; }

    public UserRole Role { get; private set; }

    public UserStatus Status { get; private set; }

    public UserPreferences Preferences { get; private set; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>
    /// Carried by every sign-in's cookie and access token and compared with this on each request: changing it (ban,
    /// password change, "sign out everywhere") ends every session the user has.
    /// </summary>
    public string SecurityStamp { get; private set; }

    /// <summary>The sign-in sessions ended one by one (logout), while a credential of theirs could still be valid.</summary>
    public IReadOnlySet<string> EndedSessions { get; }

    public bool IsAdmin => Role == UserRole.Admin;

    public bool IsBanned => Status == UserStatus.Banned;

    public bool IsAwaitingApproval => Status == UserStatus.AwaitingApproval;

    /// <param name="awaitsApproval">Sign-up needs an admin's approval: the account cannot sign in until approved.</param>
    public static User Register(Username username, string passwordHash, DateTimeOffset now, UserRole role = UserRole.User,
        bool awaitsApproval = false)
    {
        if (string.IsNullOrEmpty(passwordHash))
        {
            throw new DomainException("A user needs a password hash.", DomainErrorKind.Invalid, "password");
        }

        var status = awaitsApproval ? UserStatus.AwaitingApproval : UserStatus.Active;
        return new User(UserId.New(), username, passwordHash, role, status, UserPreferences.None, now,
            NewSecurityStamp(), new HashSet<string>());
    }

    /// <summary>
    /// The password hash of a user who has none (a chat network member): no password verifies against it, so the
    /// account can only be used from its network, or by the web account it is linked to.
    /// </summary>
    public const string NoPassword = "!";

    /// <summary>A chat network member's user, made on their first message (<see cref="Username.ForChannelMember"/>).</summary>
    public static User JoinFromChannel(Username username, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(username);
        if (!Username.IsChannelMember(username.Value))
        {
            throw new DomainException($"'{username}' is not a chat network member's name.", DomainErrorKind.Invalid,
                "username");
        }

        return new User(UserId.New(), username, NoPassword, UserRole.User, UserStatus.Active, UserPreferences.None, now,
            NewSecurityStamp(), new HashSet<string>());
    }

    /// <summary>Rebuilds a stored user; no rules run and no events are raised.</summary>
    public static User Restore(
        UserId id, Username username, string passwordHash, UserRole role, UserStatus status,
        UserPreferences preferences, DateTimeOffset createdAt, string securityStamp = "",
        IEnumerable<string>? endedSessions = null) =>
        new(id, username, passwordHash, role, status, preferences, createdAt, securityStamp,
            new HashSet<string>(endedSessions ?? [], StringComparer.Ordinal));

    /// <summary>
    /// Whether a sign-in credential still stands: the user is active (not banned, not awaiting approval), the credential carries the current security
    /// stamp (an empty stamp is never current) and its session was not ended.
    /// </summary>
    public bool AcceptsSignIn(string? securityStamp, string? sessionId) =>
        Status == UserStatus.Active
        && !string.IsNullOrEmpty(securityStamp)
        && string.Equals(securityStamp, SecurityStamp, StringComparison.Ordinal)
        && (sessionId is null || !EndedSessions.Contains(sessionId));

    /// <summary>Ends every sign-in session of this user at once (their credentials carry the old stamp).</summary>
    public void EndAllSessions() => SecurityStamp = NewSecurityStamp();

    /// <summary>
    /// Every action a user takes starts here (signing in too): a banned user can do nothing, nor can one whose account
    /// waits for an admin's approval.
    /// </summary>
    public void EnsureCanAct()
    {
        CheckRule(new BannedUserCannotActRule(this));
        CheckRule(new AccountAwaitingApprovalCannotActRule(this));
    }

    /// <summary>An admin lets an account that waited for approval in; false, changing nothing, when it was not waiting.</summary>
    public bool Approve()
    {
        if (!IsAwaitingApproval)
        {
            return false;
        }

        Status = UserStatus.Active;
        return true;
    }

    /// <summary>Bans the user and ends every sign-in; false, changing nothing, when the user is banned already.</summary>
    public bool Ban()
    {
        if (IsBanned)
        {
            return false;
        }

        Status = UserStatus.Banned;
        EndAllSessions();
        return true;
    }

    /// <summary>Lets a banned user act again; false, changing nothing, when the user is not banned.</summary>
    public bool Unban()
    {
        if (!IsBanned)
        {
            return false;
        }

        Status = UserStatus.Active;
        return true;
    }

    public void PromoteToAdmin() => Role = UserRole.Admin;

    /// <summary>
    /// Makes an admin an ordinary user again; false, changing nothing, when the user is not an admin.
    /// <paramref name="admins"/> is how many admins the platform has now: the last one stays, or nobody could run it.
    /// </summary>
    public bool DemoteFromAdmin(int admins)
    {
        if (!IsAdmin)
        {
            return false;
        }

        CheckRule(new LastAdminCannotBeDemotedRule(admins));
        Role = UserRole.User;
        return true;
    }

    /// <summary>
    /// Checks that the account may be deleted: <paramref name="admins"/> is how many admins the platform has now, and
    /// the last one stays, or nobody could run it.
    /// </summary>
    public void EnsureDeletable(int admins)
    {
        if (IsAdmin)
        {
            CheckRule(new LastAdminCannotBeDeletedRule(admins));
        }
    }

    public void ChangePasswordHash(string passwordHash)
    {
        EnsureCanAct();
        PasswordHash = string.IsNullOrEmpty(passwordHash)
            ? throw new DomainException("A user needs a password hash.", DomainErrorKind.Invalid, "password")
            : passwordHash;

        // Whoever knew the old password may hold a session: none survives the change.
        EndAllSessions();
    }

    private static string NewSecurityStamp() => Guid.NewGuid().ToString("N");

    public void UpdatePreferences(UserPreferences preferences)
    {
        EnsureCanAct();
        Preferences = preferences;
    }
}

public sealed class BannedUserCannotActRule(User user) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Forbidden;

    public string Message => "This account is banned and can do nothing on this platform.";

    public bool IsBroken() => user.IsBanned;
}


public sealed class AccountAwaitingApprovalCannotActRule(User user) : IBusinessRule
{
    public const string Text =
        "This account is waiting for an admin's approval; you can sign in once an admin has approved it.";

    public DomainErrorKind Kind => DomainErrorKind.Forbidden;

    public string Message => Text;

    public bool IsBroken() => user.IsAwaitingApproval;
}

public sealed class LastAdminCannotBeDemotedRule(int admins) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Conflict;

    public string Message => "This is the last admin: promote another user first, or nobody could run the platform.";

    public bool IsBroken() => admins <= 1;
}

public sealed class LastAdminCannotBeDeletedRule(int admins) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Conflict;

    public string Message => "This is the last admin: promote another user first, or nobody could run the platform.";

    public bool IsBroken() => admins <= 1;
}
