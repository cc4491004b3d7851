using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Channels;

/// <summary>
/// The caller of one scope in which a chat network member's question is sent: set by the channel handler once it
/// knows the member's user, so the same commands as the web app's (and their limits) see who asks, and from which
/// guild or group.
/// </summary>
public sealed class ChannelCaller : ICurrentUser
{
    public UserId? Id { get; private set; }

    /// <summary>Network members have no address of ours: the per-IP limit does not apply to them.</summary>
    public string? ClientIp => null;

    public string? GroupId { get; private set; }

    public void Become(UserId user, ChannelMember member, ChannelPlace place)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(place);
        Id = user;
        // Keyed by network too, so a Discord guild and a Telegram group with the same number share nothing.
        GroupId = place.GroupId is { } group ? $"{member.Network}:{group}" : null;
    }
}
