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
        UserPreferences preferences, DateTimeOffset createdAt)
        : base(id)
    {
        Username = username;
        PasswordHash = passwordHash;
        Role = role;
        Status = status;
        Preferences = preferences;
        CreatedAt = createdAt;
    }

    public Username Username { get; }

    public string PasswordHash { get; private set; }

    public UserRole Role { get; private set; }

    public UserStatus Status { get; private set; }

    public UserPreferences Preferences { get; private set; }

    public DateTimeOffset CreatedAt { get; }

    public bool IsAdmin => Role == UserRole.Admin;

    public bool IsBanned => Status == UserStatus.Banned;

    public static User Register(Username username, string passwordHash, DateTimeOffset now, UserRole role = UserRole.User)
    {
        if (string.IsNullOrEmpty(passwordHash))
        {
            throw new DomainException("A user needs a password hash.", DomainErrorKind.Invalid, "password");
        }

        var user = new User(UserId.New(), username, passwordHash, role, UserStatus.Active, UserPreferences.None, now);
        user.Raise(new UserRegistered(user.Id, now));
        return user;
    }

    /// <summary>Rebuilds a stored user; no rules run and no events are raised.</summary>
    public static User Restore(
        UserId id, Username username, string passwordHash, UserRole role, UserStatus status,
        UserPreferences preferences, DateTimeOffset createdAt) =>
        new(id, username, passwordHash, role, status, preferences, createdAt);

    /// <summary>Every action a user takes starts here: a banned user can do nothing.</summary>
    public void EnsureCanAct() => CheckRule(new BannedUserCannotActRule(this));

    public void Ban(DateTimeOffset now)
    {
        if (IsBanned)
        {
            return;
        }

        Status = UserStatus.Banned;
        Raise(new UserBanned(Id, now));
    }

    public void Unban(DateTimeOffset now)
    {
        if (!IsBanned)
        {
            return;
        }

        Status = UserStatus.Active;
        Raise(new UserUnbanned(Id, now));
    }

    public void PromoteToAdmin() => Role = UserRole.Admin;

    public void ChangePasswordHash(string passwordHash)
    {
        EnsureCanAct();
        PasswordHash = string.IsNullOrEmpty(passwordHash)
            ? throw new DomainException("A user needs a password hash.", DomainErrorKind.Invalid, "password")
            : passwordHash;
    }

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

public sealed record UserRegistered(UserId UserId, DateTimeOffset OccurredAt) : IDomainEvent;

public sealed record UserBanned(UserId UserId, DateTimeOffset OccurredAt) : IDomainEvent;

public sealed record UserUnbanned(UserId UserId, DateTimeOffset OccurredAt) : IDomainEvent;
