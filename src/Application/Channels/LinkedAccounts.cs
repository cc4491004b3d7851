using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Channels;

/// <summary>
/// The chat network identities a web account acts for (linked by <c>/link</c>), and their unlinking: the member gets
/// back their own user — the one made at their first message, or a new one — and the chats stay with the account.
/// </summary>
public sealed class LinkedAccounts(IChannelIdentityStore identities, IUserRepository users, IClock clock)
{
    /// <summary>The chat network accounts linked to <paramref name="account"/>, as shown to its owner.</summary>
    public async Task<IReadOnlyList<Queries.LinkedAccountDto>> ListAsync(UserId account, CancellationToken cancellationToken) =>
        [.. (await identities.ListForUserAsync(account, cancellationToken)).Select(i => new Queries.LinkedAccountDto(i.Network, i.ExternalId))];

    /// <summary>
    /// Unlinks the member from <paramref name="account"/>; false when the member is not linked to it. Two or three
    /// writes: call it inside a unit of work.
    /// </summary>
    public async Task<bool> UnlinkAsync(UserId account, string network, string externalId, CancellationToken cancellationToken)
    {
        if (await identities.FindAsync(network, externalId, cancellationToken) is not { } identity || identity.UserId != account)
        {
            return false;
        }

        var name = Username.ForChannelMember(network, externalId);
        var own = await users.GetByUsernameAsync(name.Value, cancellationToken);
        if (own is null)
        {
            own = User.JoinFromChannel(name, clock.UtcNow);
            await users.AddAsync(own, cancellationToken);
        }

        if (own.Id == account)
        {
            return false; // the member's own user: there is nothing to unlink
        }

        await identities.MoveToUserAsync(network, externalId, own.Id, cancellationToken);
        return true;
    }

    /// <summary>Unlinks every member linked to <paramref name="account"/>. Call it inside a unit of work.</summary>
    public async Task UnlinkAllAsync(UserId account, CancellationToken cancellationToken)
    {
        foreach (var identity in await identities.ListForUserAsync(account, cancellationToken))
        {
            await UnlinkAsync(account, identity.Network, identity.ExternalId, cancellationToken);
        }
    }
}
