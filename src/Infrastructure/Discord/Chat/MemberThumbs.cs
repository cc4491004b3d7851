using System.Globalization;
using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Infrastructure.Discord.Chat;

/// <summary>
/// The ratings a member's thumbs on a message still give, read from Discord when one is taken away: the gateway says
/// which reaction went, not which stay, and a member may hold 👍 and 👎 (in any skin tone) on one message at once.
/// </summary>
public sealed class MemberThumbs(DiscordRestClient rest)
{
    /// <summary>Up, down, both or neither: which thumbs <paramref name="memberId"/> has on the message now.</summary>
    public async Task<IReadOnlySet<string>> RatingsAsync(
        string channelId, string messageId, string memberId, CancellationToken cancellationToken)
    {
        var message = await rest.GetMessageAsync(channelId, messageId, cancellationToken);
        var ratings = new HashSet<string>(StringComparer.Ordinal);
        foreach (var reaction in message.Reactions ?? [])
        {
            if (reaction is not { Count: > 0, Emoji: { Id: null, Name: { } emoji } }
                || DiscordReactionFeedback.RatingOf(emoji) is not { } rating || ratings.Contains(rating))
            {
                continue;
            }

            // Those who reacted come by id, after the one given: starting just below the member's id, the member comes
            // first when they are among them.
            var first = await rest.ListReactionsAsync(channelId, messageId, emoji, JustBelow(memberId), 1, cancellationToken);
            if (first.Count == 1 && first[0].Id == memberId)
            {
                ratings.Add(rating);
            }
        }

        return ratings;
    }

    private static string JustBelow(string id) =>
        (ulong.Parse(id, NumberStyles.None, CultureInfo.InvariantCulture) - 1).ToString(CultureInfo.InvariantCulture);
}
