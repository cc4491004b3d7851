using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin;

/// <summary>
/// The signed-in caller as an admin command's actor (<c>user:ID (name)</c>), judged an admin by the stored account, not
/// by what an older credential says: a demoted or banned admin is refused at once. The host's command line acts as
/// <see cref="CommandLine"/>.
/// </summary>
public sealed class AdminActors(ICurrentUser currentUser, IUserRepository users)
{
    /// <summary>The operator at the API host's command line: whoever can run it owns the database.</summary>
    public static AdminActor CommandLine { get; } = new("cli", Environment.UserName, IsAdmin: true);

    public async Task<AdminActor> CurrentAsync(CancellationToken cancellationToken)
    {
        var user = currentUser.Id is { } id ? await users.GetAsync(id, cancellationToken) : null;
        return user is null
            ? new AdminActor("anonymous", "-", IsAdmin: false)
            : new AdminActor(IdOf(user), user.Username.Value, user.IsAdmin && !user.IsBanned);
    }

    /// <summary>How a signed-in user is named as an actor (and in the audit log).</summary>
    public static string IdOf(Domain.Users.User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return $"user:{user.Id}";
    }
}
