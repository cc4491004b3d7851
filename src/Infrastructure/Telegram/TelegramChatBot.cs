using System.Globalization;
using System.Text;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Feedback;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Telegram;

/// <summary>
/// Reads Telegram messages for the channel handler: in an allowed chat, every message of a private chat, and in a
/// group those that mention the bot (@username) or reply to it; everything else gets silence. Commands
/// (<c>/start</c>, <c>/help</c>, <c>/reset</c>, <c>/model</c>, <c>/persona</c>, <c>/status</c>, <c>/search</c>,
/// <c>/share</c>, <c>/link</c>) are answered here with the
/// texts every network shares; a question goes to <see cref="IChannelConversations"/>.
/// </summary>
public sealed partial class TelegramChatBot(
    TelegramBotClient client,
    TelegramChannelAdapter adapter,
    TelegramOptions options,
    IChannelConversations conversations,
    IServiceScopeFactory scopes,
    ILogger<TelegramChatBot> logger) : ITelegramUpdateHandler
{
    /// <summary>The command menu Telegram shows (setMyCommands).</summary>
    public static readonly IReadOnlyList<TelegramBotCommand> Commands =
    [
        new("help", "What I do and my commands"),
        new("reset", "Start over: the next question begins a new chat"),
        new("model", "The model you prefer: /model name (empty: the default)"),
        new("persona", "Start new chats as a persona: /persona name (alone: the list; none: no persona)"),
        new("status", "Is the model host online, how many questions wait"),
        new("search", "Find your chats: /search words (in a private chat)"),
        new("share", "A read-only link to your chat here: /share (revoke: /share revoke; in a private chat)"),
        new("link", "Attach this account to your MeatLizard web account: /link code, then confirm"),
    ];

    private readonly HashSet<long> _allowed = [.. options.AllowedChatIds];
    private TelegramUser? _me;

    public async Task StartAsync(TelegramUser me, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(me);
        _me = me;
        await client.SetMyCommandsAsync(Commands, cancellationToken);
    }

    public async Task HandleAsync(TelegramUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        var me = _me ?? throw new InvalidOperationException("The Telegram bot handles updates only after StartAsync.");
        if (update.MessageReaction is { } reaction)
        {
            await RateAsync(reaction, cancellationToken);
            return;
        }

        if (update.Message is not { Text: { } text, From: { IsBot: false } author } message || !(message.Chat.IsPrivate || message.Chat.IsGroup))
        {
            return;
        }

        if (!_allowed.Contains(message.Chat.Id))
        {
            LogNotAllowed(logger, message.Chat.Id);
            return;
        }

        var member = new ChannelMember(TelegramChannelAdapter.NetworkName, Id(author.Id), DisplayName(author));
        var place = new ChannelPlace(Id(message.Chat.Id), message.Chat.IsPrivate ? null : Id(message.Chat.Id), message.Chat.IsPrivate);
        if (Command(message, me) is { } command)
        {
            if (command.ForThisBot)
            {
                var reply = await AnswerCommandAsync(command.Name, command.Argument, member, place, cancellationToken);
                await adapter.PostAsync(place.ChatId, Id(message.MessageId), reply, cancellationToken);
            }

            return;
        }

        var mentioned = Mentions(message, me);
        var repliesToBot = message.ReplyToMessage?.From?.Id == me.Id;
        if (!message.Chat.IsPrivate && !mentioned && !repliesToBot)
        {
            return;
        }

        var question = WithoutMentions(message, me).Trim();
        await conversations.HandleAsync(adapter, new IncomingChannelMessage(
            member, place, Id(message.MessageId),
            message.ReplyToMessage is { } repliedTo ? Id(repliedTo.MessageId) : null,
            question, AddressedToBot: true), cancellationToken);
    }

    private async Task<string> AnswerCommandAsync(
        string name, string argument, ChannelMember member, ChannelPlace place, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var commands = scope.ServiceProvider.GetRequiredService<IChannelCommands>();
        return name switch
        {
            "start" or "help" => commands.Help(TelegramChannelAdapter.NetworkName),
            "reset" => await commands.ResetAsync(member, place, cancellationToken),
            "model" => await commands.SetPreferredModelAsync(member, argument, cancellationToken),
            "persona" => await scope.ServiceProvider.GetRequiredService<IChannelPersonas>()
                .ChooseAsync(member, place, argument, cancellationToken),
            "status" => await commands.StatusAsync(cancellationToken),
            "link" => await commands.LinkAsync(member, argument, place.IsPrivate, cancellationToken),
            "search" => await scope.ServiceProvider.GetRequiredService<IChannelSearch>()
                .SearchAsync(member, place, argument, place.IsPrivate, options.PublicBaseUrl, Plain, cancellationToken),
            "share" when argument.Length == 0 || Revokes(argument) => await scope.ServiceProvider
                .GetRequiredService<IChannelShares>()
                .ShareAsync(member, place, Revokes(argument), place.IsPrivate, options.PublicBaseUrl, cancellationToken),
            "share" => "Send /share alone to make a link to this chat, or /share revoke to end its links.",
            _ => $"I don't know /{name}. " + commands.Help(TelegramChannelAdapter.NetworkName),
        };
    }

    /// <summary>
    /// A member's 👍 or 👎 newly set on one of the bot's answers rates it (<see cref="IChannelFeedback"/>: the chat
    /// owner's alone); a thumb taken away withdraws the rating when the member's reactions hold no thumb any more, or
    /// gives the thumb that is left (new_reaction is all of them). Another emoji, or an anonymous reaction, changes
    /// nothing.
    /// </summary>
    private async Task RateAsync(TelegramMessageReaction reaction, CancellationToken cancellationToken)
    {
        var added = Thumbs(reaction.NewReaction.Except(reaction.OldReaction)).FirstOrDefault();
        var kept = Thumbs(reaction.NewReaction).FirstOrDefault();
        var removed = Thumbs(reaction.OldReaction.Except(reaction.NewReaction)).Any();
        if (added is null && !removed || reaction.User is not { IsBot: false } user || !_allowed.Contains(reaction.Chat.Id))
        {
            return;
        }

        var member = new ChannelMember(TelegramChannelAdapter.NetworkName, Id(user.Id), DisplayName(user));
        var chat = Id(reaction.Chat.Id);
        var place = new ChannelPlace(chat, reaction.Chat.IsPrivate ? null : chat, reaction.Chat.IsPrivate);
        await using var scope = scopes.CreateAsyncScope();
        var feedback = scope.ServiceProvider.GetRequiredService<IChannelFeedback>();
        await ((added ?? kept) is { } rating
            ? feedback.RateAsync(member, place, Id(reaction.MessageId), rating, cancellationToken)
            : feedback.WithdrawAsync(member, place, Id(reaction.MessageId), null, cancellationToken));
    }

    /// <summary>The ratings the thumbs among <paramref name="reactions"/> give, in their order.</summary>
    private static IEnumerable<string> Thumbs(IEnumerable<TelegramReactionType> reactions) =>
        reactions.Where(r => r.Type == "emoji")
            .Select(r => r.Emoji switch { "\U0001F44D" => Ratings.Up, "\U0001F44E" => Ratings.Down, _ => null })
            .OfType<string>();

    /// <summary>Members' words as they wrote them: the bot sends plain text (no parse_mode), which nothing formats.</summary>
    private static string Plain(string text) => text;

    /// <summary><c>/share revoke</c>, in any case.</summary>
    private static bool Revokes(string argument) => string.Equals(argument, "revoke", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The command a message starts with (a <c>bot_command</c> entity at offset 0), lower case, without its
    /// <c>@botname</c>; <c>ForThisBot</c> is false when it names another bot (in a group, <c>/help@other_bot</c>).
    /// </summary>
    private static (string Name, string Argument, bool ForThisBot)? Command(TelegramMessage message, TelegramUser me)
    {
        var entity = message.Entities?.FirstOrDefault(e => e.Type == "bot_command" && e.Offset == 0);
        if (entity is null || message.Text is not { } text || entity.Length > text.Length)
        {
            return null;
        }

        var command = text[1..entity.Length];
        var at = command.IndexOf('@', StringComparison.Ordinal);
        var forThisBot = at < 0 || string.Equals(command[(at + 1)..], me.Username, StringComparison.OrdinalIgnoreCase);
        var name = (at < 0 ? command : command[..at]).ToLowerInvariant();
        return (name, text[entity.Length..].Trim(), forThisBot);
    }

    private static bool Mentions(TelegramMessage message, TelegramUser me) =>
        MentionSpans(message, me).Any();

    private static string WithoutMentions(TelegramMessage message, TelegramUser me)
    {
        var text = new StringBuilder(message.Text);
        foreach (var span in MentionSpans(message, me).OrderByDescending(e => e.Offset))
        {
            text.Remove(span.Offset, span.Length);
        }

        return text.ToString();
    }

    /// <summary>The <c>mention</c> entities that name this bot (offsets are UTF-16 code units, as .NET strings count).</summary>
    private static IEnumerable<TelegramEntity> MentionSpans(TelegramMessage message, TelegramUser me) =>
        (message.Entities ?? []).Where(e =>
            e.Type == "mention" && me.Username is { } username && message.Text is { } text && e.Offset + e.Length <= text.Length &&
            string.Equals(text.Substring(e.Offset, e.Length), "@" + username, StringComparison.OrdinalIgnoreCase));

    private static string DisplayName(TelegramUser user) =>
        user.LastName is { } last ? $"{user.FirstName} {last}" : user.FirstName;

    private static string Id(long value) => value.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ignored a Telegram message in chat {ChatId}, which is not in Telegram:AllowedChatIds")]
    private static partial void LogNotAllowed(ILogger logger, long chatId);
}
