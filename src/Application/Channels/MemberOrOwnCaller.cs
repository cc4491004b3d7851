using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Channels;

/// <summary>
/// The caller in a host that has callers of its own besides chat network members (the API host, which serves Telegram
/// when no server bot does): the member once the channel handler made the scope theirs
/// (<see cref="ChannelCaller.Become"/>), else the host's own caller. Decided at each read, since the scope's services
/// are made before the handler knows the member.
/// </summary>
public sealed class MemberOrOwnCaller(ChannelCaller member, ICurrentUser own) : ICurrentUser
{
    private ICurrentUser Current => member.Id is null ? own : member;

    public UserId? Id => Current.Id;

    public string? ClientIp => Current.ClientIp;

    public bool ByApiKey => Current.ByApiKey;

    public string? GroupId => Current.GroupId;
}
