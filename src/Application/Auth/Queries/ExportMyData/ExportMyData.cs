using System.Runtime.CompilerServices;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Channels.Queries;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Auth.Queries;

/// <summary>The account in an export: who it is and since when (never its password's hash nor its security stamp).</summary>
public sealed record ExportedAccount(Guid Id, string Username, string Role, DateTimeOffset CreatedAt);

/// <summary>
/// One chat in an export, with the messages of its current path (or with <see cref="ExportMyData.All"/> every message of
/// its tree, each naming its parent), oldest first.
/// </summary>
public sealed record ExportedChat(SessionDto Chat, IReadOnlyList<MessageDto> Messages);

/// <summary>
/// Everything of the caller's: the account, its API keys (names and dates; a key itself is never stored), the chat
/// network accounts linked to it, and every chat with its messages — one chat read at a time, as the document is
/// written, so a long history is never held whole.
/// </summary>
public sealed record MyDataExport(
    DateTimeOffset ExportedAt, ExportedAccount Account, IReadOnlyList<ApiKeyDto> ApiKeys,
    IReadOnlyList<LinkedAccountDto> LinkedAccounts, IAsyncEnumerable<ExportedChat> Chats);

/// <summary>The caller's data, as one JSON document (<see cref="MyDataExport"/>).</summary>
public sealed record ExportMyData(bool All = false) : IRequest<MyDataExport>;

public sealed class ExportMyDataHandler(UserAccess access, IChatReadModel reads, LinkedAccounts linked, IClock clock)
    : IRequestHandler<ExportMyData, MyDataExport>
{
    public async Task<MyDataExport> Handle(ExportMyData request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var keys = await reads.ListApiKeysAsync(user.Id, cancellationToken);
        var linkedAccounts = await linked.ListAsync(user.Id, cancellationToken);
        var chats = await reads.ListSessionsAsync(user.Id, cancellationToken);
        return new MyDataExport(
            clock.UtcNow,
            new ExportedAccount(user.Id.Value, user.Username.Value, user.Role.ToString().ToLowerInvariant(), user.CreatedAt),
            keys,
            linkedAccounts,
            WithMessagesAsync(chats, request.All, cancellationToken));
    }

    private async IAsyncEnumerable<ExportedChat> WithMessagesAsync(
        IReadOnlyList<SessionDto> chats, bool wholeTrees, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var chat in chats.OrderBy(c => c.CreatedAt))
        {
            yield return new ExportedChat(chat, await reads.GetTranscriptAsync(new ChatId(chat.Id), wholeTrees, cancellationToken));
        }
    }
}
