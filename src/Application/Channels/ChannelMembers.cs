using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Channels;

/// <summary>
/// Who a chat network member is here: their identity row and the MeatLizard user it points to, made on first use
/// (<c>discord:123</c>, no password) so per-user limits, bans and history apply as to anyone.
/// </summary>
public sealed class ChannelMembers(
    IChannelIdentityStore identities, IUserRepository users, IUnitOfWork unitOfWork, IClock clock)
{
    public async Task<(User User, ChannelIdentity Identity)> ResolveAsync(
        ChannelMember member, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        for (var attempt = 0; ; attempt++)
        {
            if (await identities.FindAsync(member.Network, member.Id, cancellationToken) is { } known
                && await users.GetAsync(known.UserId, cancellationToken) is { } user)
            {
                return (user, known);
            }

            var joined = User.JoinFromChannel(Username.ForChannelMember(member.Network, member.Id), clock.UtcNow);
            var identity = new ChannelIdentity(member.Network, member.Id, joined.Id, null);
            try
            {
                var added = await unitOfWork.InTransactionAsync(async ct =>
                {
                    await users.AddAsync(joined, ct);
                    return await identities.TryAddAsync(identity, ct);
                }, cancellationToken);
                if (added)
                {
                    return (joined, identity);
                }
            }
            catch (Exception) when (attempt == 0 && !cancellationToken.IsCancellationRequested)
            {
                // Another process made the member at the same moment (the name is unique): read theirs.
            }

            if (attempt > 0)
            {
                throw new InvalidOperationException($"The identity of {member.Username} could not be stored.");
            }
        }
    }
}
