namespace MeatLizard.Application.Channels;

/// <summary>
/// What the channel handler answers to the chat commands every network has (<c>/help</c>, <c>/model</c>,
/// <c>/reset</c>, <c>/status</c>, <c>/link</c>): the text to show the member; the adapter only posts it.
/// </summary>
public interface IChannelCommands
{
    /// <summary>What the bot does and its commands.</summary>
    string Help(string network);

    /// <summary>Sets the member's preferred model (<c>/model name:…</c>); an empty name clears it.</summary>
    Task<string> SetPreferredModelAsync(ChannelMember member, string? model, CancellationToken cancellationToken);

    /// <summary>Starts over in this place: the member's next message without a reply starts a new chat.</summary>
    Task<string> ResetAsync(ChannelMember member, ChannelPlace place, CancellationToken cancellationToken);

    /// <summary>Whether a model host is online, and how many questions wait.</summary>
    Task<string> StatusAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Attaches the member to the web account that made the code (single use, short-lived), in two steps: the code alone
    /// names the account and moves nothing; the code followed by <c>confirm</c> links. <paramref name="privately"/>:
    /// only the member sees the answer (a private chat, an ephemeral reply); elsewhere the member is sent there.
    /// </summary>
    Task<string> LinkAsync(ChannelMember member, string? argument, bool privately, CancellationToken cancellationToken);
}

/// <summary>
/// The one handler behind every network: maps the author to a MeatLizard user, applies bans and the per-user and
/// per-group limits, finds or starts the chat, sends the question through the same path as the web app and streams
/// the answer back through <paramref name="adapter"/> (edits at most every <see cref="IChannelAdapter.MinEditInterval"/>,
/// split at <see cref="IChannelAdapter.MaxMessageLength"/>). A refusal is answered with a clear message, never thrown.
/// </summary>
public interface IChannelConversations
{
    Task HandleAsync(IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken);

    /// <summary>Finishes the questions of the adapter's network that a stop left unanswered (at a host's start).</summary>
    Task ResumeAsync(IChannelAdapter adapter, CancellationToken cancellationToken);
}
