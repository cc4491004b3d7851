using System.Text.Json;
using System.Threading.Channels;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Feedback;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Chat;

/// <summary>
/// A member's 👍 or 👎 reaction (MESSAGE_REACTION_ADD, intent GUILD_MESSAGE_REACTIONS) on one of the server bot's
/// answers rates that answer (<see cref="IChannelFeedback"/>: the chat owner's alone), and taking it away
/// (MESSAGE_REACTION_REMOVE) leaves the rating of the thumbs the member still shows (<see cref="MemberThumbs"/>). Reactions are
/// queued off the gateway loop, in order; every other emoji, and reactions on other messages, are ignored.
/// </summary>
public sealed partial class DiscordReactionFeedback(
    DiscordSelf self, MemberThumbs thumbs, IServiceScopeFactory scopes, ILogger<DiscordReactionFeedback> logger)
    : BackgroundService, IDiscordEventHandler
{
    private readonly Channel<Reaction> _reactions =
        Channel.CreateUnbounded<Reaction>(new UnboundedChannelOptions { SingleReader = true });

    public ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dispatch);
        var added = dispatch.Type == "MESSAGE_REACTION_ADD";
        return (added || dispatch.Type == "MESSAGE_REACTION_REMOVE") && Read(dispatch.Data, self.UserId, added) is { } reaction
            ? _reactions.Writer.WriteAsync(reaction, cancellationToken)
            : ValueTask.CompletedTask;
    }

    /// <summary>The rating a thumb means (any skin tone), or null for any other emoji (a custom one has an id).</summary>
    public static string? RatingOf(JsonElement emoji) =>
        emoji.ValueKind != JsonValueKind.Object || emoji.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.Null
        || !emoji.TryGetProperty("name", out var name) || name.GetString() is not { } text
            ? null
            : RatingOf(text);

    /// <summary>The rating a Unicode emoji means: a thumb up or down, in any skin tone; null for any other.</summary>
    public static string? RatingOf(string emoji) =>
        emoji.StartsWith("\U0001F44D", StringComparison.Ordinal) ? Ratings.Up
        : emoji.StartsWith("\U0001F44E", StringComparison.Ordinal) ? Ratings.Down
        : null;

    private static Reaction? Read(JsonElement data, string? bot, bool added)
    {
        if (RatingOf(data.TryGetProperty("emoji", out var emoji) ? emoji : default) is not { } rating
            || Text(data, "user_id") is not { } user || user == bot
            || Text(data, "channel_id") is not { } channel || Text(data, "message_id") is not { } message
            // Sent with an added reaction when Discord knows the message's author (never with a removed one): a
            // reaction on someone else's message is none of ours.
            || Text(data, "message_author_id") is { } author && author != bot)
        {
            return null;
        }

        var member = new ChannelMember(DiscordChatAdapter.NetworkName, user, user);
        return new Reaction(member, new ChannelPlace(channel, Text(data, "guild_id")), message, rating, added);
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var reaction in _reactions.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var feedback = scope.ServiceProvider.GetRequiredService<IChannelFeedback>();
                    await (reaction.Added
                        ? feedback.RateAsync(reaction.Member, reaction.Place, reaction.MessageId, reaction.Rating, stoppingToken)
                        : TakenAwayAsync(feedback, reaction, stoppingToken));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogFailed(logger, reaction.Place.ChatId, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// A thumb taken away: the rating follows the thumbs the member still shows (👍 then 👎, the 👎 taken away: up again),
    /// and with none left, the rating that thumb gave is withdrawn. When Discord cannot say which are left, that
    /// withdrawal is all that is done.
    /// </summary>
    private async Task TakenAwayAsync(IChannelFeedback feedback, Reaction reaction, CancellationToken cancellationToken)
    {
        IReadOnlySet<string> left;
        try
        {
            left = await thumbs.RatingsAsync(reaction.Place.ChatId, reaction.MessageId, reaction.Member.Id, cancellationToken);
        }
        catch (Exception ex) when (ex is DiscordApiException or HttpRequestException)
        {
            LogThumbsUnread(logger, reaction.Place.ChatId, ex);
            left = new HashSet<string>();
        }

        if (left.Count == 1)
        {
            await feedback.RateAsync(reaction.Member, reaction.Place, reaction.MessageId, left.Single(), cancellationToken);
        }
        else if (left.Count == 0)
        {
            await feedback.WithdrawAsync(reaction.Member, reaction.Place, reaction.MessageId, reaction.Rating, cancellationToken);
        }

        // Both thumbs still shown: the rating of the later one stands.
    }

    private sealed record Reaction(ChannelMember Member, ChannelPlace Place, string MessageId, string Rating, bool Added);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Which thumbs a member still shows in channel {ChannelId} could not be read; the rating the one taken away gave is withdrawn")]
    private static partial void LogThumbsUnread(ILogger logger, string channelId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Rating an answer from a reaction (or withdrawing it) in channel {ChannelId} failed")]
    private static partial void LogFailed(ILogger logger, string channelId, Exception exception);
}
