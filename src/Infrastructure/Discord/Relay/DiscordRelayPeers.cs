namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// Whose envelopes a bot reads. The server bot reads every listed client bot (<see cref="DiscordOptions.ClientBotUserIds"/>);
/// a client bot reads the server bot only, and shares the relay channels with the other client bots, whose messages
/// there are expected traffic it passes over quietly (<see cref="IgnoredMessageReason.OtherRelayBot"/>).
/// </summary>
public sealed record DiscordRelayPeers(IReadOnlySet<string> UserIds, bool SharesChannelsWithOtherBots)
{
    public static DiscordRelayPeers ForServerBot(DiscordOptions options) =>
        new(options.ClientBotUserIds.ToHashSet(StringComparer.Ordinal), SharesChannelsWithOtherBots: false);

    public static DiscordRelayPeers ForClientBot(DiscordOptions options) =>
        new(new HashSet<string>(StringComparer.Ordinal) { options.ServerBotUserId! }, SharesChannelsWithOtherBots: true);

    public bool Accepts(string userId) => UserIds.Contains(userId);
}
