namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>What a channel is to the relay.</summary>
public sealed record RelayChannelInfo(string ChannelId, Guid? SessionId, bool IsControl)
{
    public bool IsRelay => SessionId is not null || IsControl;
}
