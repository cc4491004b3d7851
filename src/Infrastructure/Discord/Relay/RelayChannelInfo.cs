namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// What a channel is to the relay. <paramref name="Members"/>: the users its overwrites let view it (the bots the
/// server bot let in), when the channel itself was read; null when it is known by id only.
/// </summary>
public sealed record RelayChannelInfo(string ChannelId, Guid? ChatId, bool IsControl, IReadOnlySet<string>? Members = null)
{
    public bool IsRelay => ChatId is not null || IsControl;
}
