using System.Globalization;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Sharing.Commands;
using MeatLizard.Application.Sharing.Queries;

namespace MeatLizard.Application.Channels;

/// <summary>
/// <c>/share</c> on every chat network: a share link of the member's current chat in this place (the one
/// <c>/reset</c> starts over), made and revoked by the same commands as the web app's Share dialog.
/// </summary>
public interface IChannelShares
{
    /// <summary>Makes a link to the current chat as it is now; with <paramref name="revoke"/>, ends every link to it.</summary>
    /// <param name="privately">Only the member sees the answer (a private chat, an ephemeral reply); elsewhere the
    /// member is sent there: the link is theirs to give.</param>
    /// <param name="webBaseUrl">The web app's address, for a full link; null shows the path.</param>
    Task<string> ShareAsync(ChannelMember member, ChannelPlace place, bool revoke, bool privately, string? webBaseUrl,
        CancellationToken cancellationToken);
}

public sealed class ChannelShares(MemberAsCaller asCaller, IChannelConversationStore conversations, IMediator mediator)
    : IChannelShares
{
    public const string NoChat = "You have no chat here to share: ask me something first (after /reset, the next question starts one).";

    public Task<string> ShareAsync(ChannelMember member, ChannelPlace place, bool revoke, bool privately,
        string? webBaseUrl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(place);
        if (!privately)
        {
            return Task.FromResult("Send /share to me in a private chat: the link is yours to give.");
        }

        return asCaller.RunAsync(member, place, async _ =>
        {
            if (await conversations.FindCurrentAsync(member.Network, place.ChatId, member.Id, cancellationToken) is not { } chat)
            {
                return NoChat;
            }

            return revoke
                ? await RevokeAsync(chat.Value, cancellationToken)
                : await CreateAsync(chat.Value, webBaseUrl, cancellationToken);
        }, cancellationToken);
    }

    private async Task<string> CreateAsync(Guid chat, string? webBaseUrl, CancellationToken cancellationToken)
    {
        var link = await mediator.Send(new CreateShareLink(chat, null), cancellationToken);
        return $"A read-only link to this chat as it is now ({link.Messages.ToString(CultureInfo.InvariantCulture)} " +
               $"messages; anyone holding it reads them, without signing in): {MemberAsCaller.WebLink(link.Path, webBaseUrl)}\n" +
               "Later messages are not shown. End it with /share revoke.";
    }

    private async Task<string> RevokeAsync(Guid chat, CancellationToken cancellationToken)
    {
        var links = await mediator.Send(new ListShareLinks(chat), cancellationToken);
        foreach (var link in links)
        {
            await mediator.Send(new RevokeShareLink(link.Id), cancellationToken);
        }

        return links.Count == 0
            ? "This chat has no share link."
            : $"Revoked {links.Count.ToString(CultureInfo.InvariantCulture)} share link(s) of this chat: they no longer open.";
    }
}
