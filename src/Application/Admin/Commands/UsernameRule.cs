using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Admin.Commands;

internal static class UsernameRule
{
    public const string Message =
        "Give a MeatLizard username (3–32 letters, digits, '_', '.' or '-') or a chat member's, like discord:123.";

    public static async Task<Domain.Users.User> FindAsync(
        IUserRepository users, string username, CancellationToken cancellationToken) =>
        await users.GetByUsernameAsync(username, cancellationToken)
        ?? throw NotFoundException.User(username);

    /// <summary>A user named by id (the web console) or by username (the command line).</summary>
    public static async Task<Domain.Users.User> FindByIdOrNameAsync(
        IUserRepository users, string user, CancellationToken cancellationToken) =>
        Guid.TryParse(user, out var id)
            ? await users.GetAsync(new Domain.Common.UserId(id), cancellationToken) ?? throw NotFoundException.UserId(id)
            : await FindAsync(users, user, cancellationToken);

    public const string IdOrNameMessage = "Give a user's id or username.";

    public static bool IsIdOrName(string? user) =>
        Guid.TryParse(user, out _) || Domain.Common.Username.IsValidOrChannelMember(user);
}
