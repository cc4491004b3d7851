namespace MeatLizard.Application.Channels;

/// <summary>
/// One chat network (Discord, Telegram, …) as the channel handler uses it: post a reply, edit it as the answer grows,
/// show "typing". A third network is a new implementation of this port, not a change to the handler. Ids are the
/// network's own, as strings (Discord snowflakes, Telegram integers), so no network's number range leaks in here.
/// </summary>
public interface IChannelAdapter
{
    /// <summary>The network's name, lower case: the prefix of its members' user names (<c>discord:123</c>).</summary>
    string Network { get; }

    /// <summary>The most characters one message may hold (Discord 2,000, Telegram 4,096).</summary>
    int MaxMessageLength { get; }

    /// <summary>
    /// The least time between two edits of one message, so streaming stays inside the network's rate limits in
    /// steady state (about one second on both).
    /// </summary>
    TimeSpan MinEditInterval { get; }

    /// <summary>How often "typing" must be shown again to stay visible (Discord shows it 10 s, Telegram 5 s).</summary>
    TimeSpan TypingInterval { get; }

    /// <summary>
    /// Posts <paramref name="text"/> (at most <see cref="MaxMessageLength"/> characters) in <paramref name="chatId"/>
    /// as a reply to <paramref name="replyToMessageId"/> (a plain message when null) and returns the posted message's id.
    /// </summary>
    Task<string> PostAsync(string chatId, string? replyToMessageId, string text, CancellationToken cancellationToken);

    /// <summary>Replaces the text of a message this adapter posted.</summary>
    Task EditAsync(string chatId, string messageId, string text, CancellationToken cancellationToken);

    /// <summary>Shows "typing" in the chat until the next message or <see cref="TypingInterval"/> passes.</summary>
    Task ShowTypingAsync(string chatId, CancellationToken cancellationToken);
}
