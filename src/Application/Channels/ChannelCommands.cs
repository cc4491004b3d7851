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
    IUserRepository users,
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
        "• /persona name — start new chats as a persona (alone: the list; none: no persona)\n" +
        "• /reset — start over here\n" +
        (network == "telegram"
            ? "• /search words — find your chats (in a private chat with me)\n" +
              "• /share — a read-only link to your chat with me here (revoke: /share revoke; in a private chat)\n"
            : "• /search words — find your chats (only you see the results)\n" +
              "• /share — a read-only link to your chat here (revoke:True ends its links; only you see it)\n") +
        "• 👍 or 👎 on one of my answers to you rates it\n" +
        "• /status — is the model host online, how many questions wait\n" +
        "• /link code — attach this account to your MeatLizard web account (make the code in the web app; " +
        "I name the account and you confirm)";

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

    public async Task<string> LinkAsync(ChannelMember member, string? argument, bool privately,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        var (code, confirmed) = LinkArgument(argument);
        if (code.Length == 0)
        {
            return "Give the code the web app showed you: /link code.";
        }

        if (!privately)
        {
            return "Send /link to me in a private chat: my answer names your web account.";
        }

        var (self, _) = await members.ResolveAsync(member, cancellationToken);
        var hash = CreateLinkCodeHandler.Hash(code);
        const string Unknown = "That code is unknown, used or expired; make a new one in the web app.";
        if (!confirmed)
        {
            // Nothing moves yet: the member sees whose account the code is from, and confirms.
            if (await linkCodes.PeekAsync(hash, clock.UtcNow, cancellationToken) is not { } target
                || await users.GetAsync(target, cancellationToken) is not { } account)
            {
                return Unknown;
            }

            return account.Id == self.Id
                ? $"You are linked to the MeatLizard account '{account.Username.Value}' already."
                : $"This code is from the MeatLizard account '{account.Username.Value}'. Linking makes your chats here " +
                  "that account's: it sees them, and you ask as it from then on. If that is your account, confirm with " +
                  ConfirmHint(member.Network, code) + ".";
        }

        if (await linkCodes.TakeAsync(hash, clock.UtcNow, cancellationToken) is not { } user
            || await users.GetAsync(user, cancellationToken) is not { } linked)
        {
            return Unknown;
        }

        await unitOfWork.InTransactionAsync(async ct =>
        {
            await identities.MoveToUserAsync(member.Network, member.Id, user, ct);
            return true;
        }, cancellationToken);
        return $"Linked to '{linked.Username.Value}': your chats here now belong to that MeatLizard web account, where " +
               "you see them too. Unlink in the web app (API keys, Linked accounts).";
    }

    /// <summary>The code, and whether the member confirmed (a last word <c>confirm</c>).</summary>
    public static (string Code, bool Confirmed) LinkArgument(string? argument)
    {
        var words = (argument ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var confirmed = words.Length > 1 && string.Equals(words[^1], "confirm", StringComparison.OrdinalIgnoreCase);
        return (string.Concat(confirmed ? words[..^1] : words), confirmed);
    }

    private static string ConfirmHint(string network, string code) => network == "discord"
        ? $"/link code:{code} confirm:True"
        : $"/link {code} confirm";
}
