using System.Globalization;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels.Commands;
using MeatLizard.Application.OpenAi;
using MeatLizard.Application.Status.Queries;

namespace MeatLizard.Application.Channels;

/// <summary>The chat commands every network offers, answered the same way on each.</summary>
public sealed class ChannelCommands(
    ChannelMembers members,
    IChannelIdentityStore identities,
    IChannelConversationStore conversations,
    ILinkCodeStore linkCodes,
    ModelCatalog models,
    IMediator mediator,
    IUnitOfWork unitOfWork,
    IClock clock) : IChannelCommands
{
    public string Help(string network) =>
        "I answer with MeatLizard's model, in the channels where I am allowed.\n" +
        (network == "telegram"
            ? "• Write to me privately, or mention me or reply to my answer in a group.\n"
            : "• Mention me with your question, reply to one of my answers to go on, or use /ask.\n") +
        "• /model name — the model you prefer (empty: the channel's or the default)\n" +
        "• /reset — start over here\n" +
        "• /status — is the model host online, how many questions wait\n" +
        "• /link code — attach this account to your MeatLizard web account (make the code in the web app)";

    public async Task<string> SetPreferredModelAsync(ChannelMember member, string? model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        await members.ResolveAsync(member, cancellationToken);
        var name = string.IsNullOrWhiteSpace(model) ? null : model.Trim();
        if (name is not null)
        {
            var known = await models.ListAsync(cancellationToken);
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                return $"There is no model named '{name}'. Models: {string.Join(", ", known)}.";
            }
        }

        await identities.SetPreferredModelAsync(member.Network, member.Id, name, cancellationToken);
        return name is null
            ? "You prefer no model now: new chats use the channel's model or the default."
            : $"Your new chats use the model '{name}'.";
    }

    public async Task<string> ResetAsync(ChannelMember member, ChannelPlace place, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(place);
        await conversations.SetCurrentAsync(member.Network, place.ChatId, member.Id, null, cancellationToken);
        return "Starting over: your next question begins a new chat.";
    }

    public async Task<string> StatusAsync(CancellationToken cancellationToken)
    {
        var status = await mediator.Send(new GetPlatformStatus(), cancellationToken);
        var hosts = status.WorkersOnline == 0
            ? "No model host is online; questions get a fallback answer or a notice."
            : $"{status.WorkersOnline.ToString(CultureInfo.InvariantCulture)} model host(s) online.";
        return $"{hosts} {status.QueueDepth.ToString(CultureInfo.InvariantCulture)} question(s) waiting.";
    }

    public async Task<string> LinkAsync(ChannelMember member, string? code, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        if (string.IsNullOrWhiteSpace(code))
        {
            return "Give the code the web app showed you: /link code.";
        }

        await members.ResolveAsync(member, cancellationToken);
        if (await linkCodes.TakeAsync(CreateLinkCodeHandler.Hash(code), clock.UtcNow, cancellationToken) is not { } user)
        {
            return "That code is unknown, used or expired; make a new one in the web app.";
        }

        await unitOfWork.InTransactionAsync(async ct =>
        {
            await identities.MoveToUserAsync(member.Network, member.Id, user, ct);
            return true;
        }, cancellationToken);
        return "Linked: your chats here now belong to your MeatLizard web account, where you can see them too.";
    }
}
