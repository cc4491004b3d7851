namespace MeatLizard.Application.Channels;

/// <summary>A person on a chat network, by the network's id for them and the name shown there.</summary>
public sealed record ChannelMember(string Network, string Id, string DisplayName)
{
    /// <summary>The MeatLizard user name a member gets on first use: <c>discord:123</c>, <c>telegram:456</c>.</summary>
    public string Username => $"{Network}:{Id}";
}

/// <summary>
/// Where a message was written: the network's chat or channel id, and the guild (Discord) or group it belongs to,
/// whose limit it shares; null in a private chat, which then has no group limit.
/// </summary>
public sealed record ChannelPlace(string ChatId, string? GroupId, bool IsPrivate = false);

/// <summary>
/// A message addressed to the bot, as an adapter read it: who wrote it where, what it replies to, and its text with
/// the bot's mention already taken out. The adapter passes on only messages in allowed places that mention the bot,
/// reply to it or are written in a private chat with it; everything else it ignores.
/// </summary>
/// <param name="MessageId">The network's id of this message: the answer is posted as a reply to it.</param>
/// <param name="ReplyToMessageId">The message this one replies to, if any: a reply to one of the bot's answers
/// continues that answer's chat.</param>
/// <param name="AddressedToBot">True when the bot was mentioned or replied to (always true in a private chat).</param>
public sealed record IncomingChannelMessage(
    ChannelMember Author,
    ChannelPlace Place,
    string MessageId,
    string? ReplyToMessageId,
    string Text,
    bool AddressedToBot);
