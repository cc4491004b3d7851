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
}
