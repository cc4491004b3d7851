using System.Globalization;
using System.Text;
using MediatR;
using MeatLizard.Application.Search;
using MeatLizard.Application.Search.Queries;

namespace MeatLizard.Application.Channels;

/// <summary>
/// <c>/search words</c> on every chat network: full-text search over the member's own chats (their user's: a linked
/// web account's chats too), the best few results with their chat's title and snippet, and where each chat opens in
/// the web app. Only where the member alone sees the answer, since it shows their chats.
/// </summary>
public interface IChannelSearch
{
    /// <param name="privately">Only the member sees the answer (a private chat, an ephemeral reply); elsewhere the
    /// member is sent there.</param>
    /// <param name="webBaseUrl">The web app's address, for full links; null shows paths.</param>
    /// <param name="literal">Shows text members wrote (the words, titles, snippets) as written in the network's reply:
    /// Discord escapes its markdown and defuses mentions, a network that sends plain text leaves it as it is.</param>
    Task<string> SearchAsync(ChannelMember member, ChannelPlace place, string? words, bool privately, string? webBaseUrl,
        Func<string, string> literal, CancellationToken cancellationToken);
}

public sealed class ChannelSearch(MemberAsCaller asCaller, IMediator mediator) : IChannelSearch
{
    /// <summary>How many results a chat network shows: a reply, not a results page.</summary>
    public const int MaxResults = 5;

    private const int MaxTitle = 80;
    private const int MaxSnippet = 200;

    public Task<string> SearchAsync(ChannelMember member, ChannelPlace place, string? words, bool privately,
        string? webBaseUrl, Func<string, string> literal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(literal);
        var wanted = words?.Trim() ?? "";
        if (wanted.Length == 0)
        {
            return Task.FromResult("Give the words to look for: /search words.");
        }

        if (!privately)
        {
            return Task.FromResult("Send /search to me in a private chat: the results show your chats.");
        }

        return asCaller.RunAsync(member, place, async user =>
        {
            var page = await mediator.Send(new SearchChats(wanted, MaxResults), cancellationToken);
            return page.Results.Count == 0
                ? $"Nothing in your chats matches '{literal(wanted)}'."
                : Describe(wanted, page.Results, webBaseUrl, MemberAsCaller.IsLinked(user), literal);
        }, cancellationToken);
    }

    private static string Describe(string words, IReadOnlyList<SearchHitDto> hits, string? webBaseUrl, bool linked,
        Func<string, string> literal)
    {
        var text = new StringBuilder($"Your chats matching '{literal(words)}', best first:");
        var number = 0;
        foreach (var hit in hits)
        {
            var where = hit.Role switch
            {
                "user" => "a question",
                "assistant" => "an answer",
                null => "the title",
                _ => "a message",
            };
            text.Append(CultureInfo.InvariantCulture,
                    $"\n{++number}. “{literal(Shorten(hit.Title, MaxTitle))}” ({where}, {hit.CreatedAt:yyyy-MM-dd}): ")
                .Append(literal(Shorten(hit.Snippet, MaxSnippet)))
                .Append("\n   ").Append(MemberAsCaller.WebLink($"/c/{hit.ChatId:D}", webBaseUrl));
        }

        text.Append(linked
            ? "\nOpen one in the web app, signed in to your account."
            : "\nTo open them in the web app, link your web account first (/link).");
        return text.ToString();
    }

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
