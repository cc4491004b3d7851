using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// The relay server's hand-off of a question: a new chat's first question, or a question in a started chat, goes to a
/// host of this process in the transaction that stores it — its request stored already dispatched, and sent once stored
/// — rather than being stored pending, claimed by the dispatcher in a second transaction, read back with its chat and
/// history, and stored again as dispatched. The prompt is the one the dispatcher would build
/// (<see cref="DispatchPlanner.PlaceAsync"/>), from the messages as they are about to be stored (a new chat's) or the
/// chat's earlier turns read just before its conditional write (<see cref="IQuestionHandOff.PlaceInChatAsync"/>) and
/// the question. Tool results, a regenerate or an edit, and a question that cannot go now, wake the dispatcher as before.
/// </summary>
/// <remarks>
/// <para>
/// Only where the queue decides nothing and the send is quick: the way to the hosts is up and shows them, and the one
/// host that takes work is reached by this process itself (the in-process or the direct relay: the send is a write to
/// its connection) and takes any number of requests — no slot limit, none given back lately — so placing keeps no
/// counts (<see cref="ModelHosts.TheOneHostTakingAnyNumberAsync"/>). A question then never takes a slot a request
/// waiting in the queue would have had, and no lock is held across its write. With slot limits or a choice between
/// hosts the dispatcher places: holding the hosts' counts across every new chat's transaction would serialise this
/// process's questions, and the queue keeps their order (round robin over users, <see cref="Hosts.UserTurns"/>). Over
/// Discord the dispatcher sends: a call to Discord, slow under its rate limits and slower in an outage, would hold the
/// question's caller. A question with images waits for the dispatcher too, which reads them back from the object store
/// for the envelope.
/// </para>
/// <para>
/// A send that fails after the write goes back to the queue or ends in its notice (<see cref="UnsentRequests"/>), and a
/// crash between the write and the send leaves a dispatched request no host acknowledges, which its ack timeout sends
/// again — both as for a dispatch the dispatcher stored and then could not send.
/// </para>
/// </remarks>
public sealed class EarlyDispatch(
    ModelHosts hosts,
    DispatchPlanner planner,
    RequestSender sender,
    RelayWay way,
    IRelayQueueSignal signal,
    IChatReadModel reads,
    IOptions<RelayOptions> options) : IQuestionHandOff
{
    public async ValueTask<bool> MayPlaceInChatAsync(CancellationToken cancellationToken) =>
        await PlacementAsync(cancellationToken) is not null;

    public async Task<RequestBody?> PlaceAsync(Chat chat, IReadOnlyList<Message> messages, RelayRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(request);
        if (messages.Any(m => m.Images.Count > 0))
        {
            return null;
        }

        return await PlacementAsync(cancellationToken) is { } placement
            ? await planner.PlaceAsync(request, chat, ChatTurn.Recent(messages, options.Value.MaxHistoryMessages),
                placement, cancellationToken)
            : null;
    }

    public async Task<RequestBody?> PlaceInChatAsync(Chat chat, Message question, RelayRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(request);
        if (question.Images.Count > 0 || await PlacementAsync(cancellationToken) is not { } placement)
        {
            return null;
        }

        // The turns the dispatcher's claim would read once the question is stored: the newest of the chat's path, the
        // question the newest of them.
        var max = options.Value.MaxHistoryMessages;
        var earlier = await reads.GetRecentTurnsAsync(chat.Id, max - 1, cancellationToken);
        return earlier.Any(t => t.Images is { Count: > 0 })
            ? null // read back from the object store for the envelope by the dispatcher
            : await planner.PlaceAsync(request, chat, [.. earlier, .. ChatTurn.Recent([question], max)], placement,
                cancellationToken);
    }

    /// <summary>The one host a question may be placed on now, where the way to it is up and shows it; null otherwise.</summary>
    private async ValueTask<HostPlacement?> PlacementAsync(CancellationToken cancellationToken) =>
        way.IsOut || way.HidesHosts ? null : await hosts.TheOneHostTakingAnyNumberAsync(cancellationToken);

    public async Task HandOffAsync(RelayRequest request, RequestBody? placed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (placed is null)
        {
            signal.NotifyPending();
            return;
        }

        await sender.SendAsync(request, placed, cancellationToken);
    }
}
