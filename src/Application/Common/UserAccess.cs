using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Common;

/// <summary>Loads the caller and the sessions they may touch; every user-facing handler starts here.</summary>
public sealed class UserAccess(ICurrentUser currentUser, IUserRepository users, IChatRepository chats)
{
    /// <summary>The caller, who must be signed in and not banned.</summary>
    public async Task<User> RequireActiveUserAsync(CancellationToken cancellationToken)
    {
        var id = currentUser.Id ?? throw new UnauthenticatedException("Sign in first.");
        var user = await users.GetAsync(id, cancellationToken)
                   ?? throw new UnauthenticatedException("This account no longer exists.");
        user.EnsureCanAct();
        return user;
    }

    /// <summary>
    /// The caller, signed in with their password (a session cookie or access token), not with an API key: what may make
    /// new credentials (<paramref name="what"/>, e.g. "create API keys"), so that a leaked key cannot outlive its own
    /// revocation through keys or links it made.
    /// </summary>
    public async Task<User> RequirePasswordSignInAsync(string what, CancellationToken cancellationToken)
    {
        if (currentUser.ByApiKey)
        {
            throw new Domain.Common.DomainException(
                $"An API key cannot {what}: sign in with your password to do that.", Domain.Common.DomainErrorKind.Forbidden);
        }

        return await RequireActiveUserAsync(cancellationToken);
    }

    /// <summary>
    /// The chat an action is taken on, by its owner (<paramref name="admin"/> null: the signed-in caller, who must own it;
    /// another user's chat is reported as not found) or by an admin, who may act on anyone's chat. The one rule for what
    /// admins may do beyond owners (<see cref="Admin.IOwnerOrAdminAction"/>). The owner is null when an admin acts.
    /// </summary>
    public async Task<(User? Owner, Chat Chat)> RequireChatAsync(
        Guid chatId, Admin.AdminActor? admin, CancellationToken cancellationToken)
    {
        if (admin is null)
        {
            return await RequireSessionAsync(chatId, cancellationToken);
        }

        if (!admin.IsAdmin)
        {
            throw new Admin.AdminOnlyException(); // the admin pipeline refuses first; a handler never trusts it alone
        }

        return (null, await chats.GetAsync(new Domain.Common.ChatId(chatId), cancellationToken)
                      ?? throw NotFoundException.Chat(chatId));
    }

    /// <summary>
    /// The caller's own chat, for what only its owner may do with it (share it, rate its answers): an admin may read
    /// others' chats, but another user's chat is reported as not found here, to admins too.
    /// </summary>
    public async Task<(User User, Chat Chat)> RequireOwnChatAsync(Guid chatId, CancellationToken cancellationToken)
    {
        var (user, chat) = await RequireSessionAsync(chatId, cancellationToken);
        return chat.OwnerId == user.Id ? (user, chat) : throw NotFoundException.Chat();
    }

    /// <summary>The caller's session; another user's session is reported as not found.</summary>
    public async Task<(User User, Chat Session)> RequireSessionAsync(
        Guid chatId, CancellationToken cancellationToken)
    {
        var user = await RequireActiveUserAsync(cancellationToken);
        var chat = await chats.GetAsync(new Domain.Common.ChatId(chatId), cancellationToken);
        if (chat is null || !chat.IsVisibleTo(user))
        {
            throw NotFoundException.Chat();
        }

        return (user, chat);
    }
}
