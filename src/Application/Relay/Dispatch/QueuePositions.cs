using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// Tells the requests left waiting where they stand: their place in their model's queue (in the order they will be
/// served) and, once the hosts serving it have answered before, about how long until one starts it.
/// </summary>
public sealed class QueuePositions(AnswerTimes answerTimes, IChatEvents events)
{
    public async Task TellAsync(IReadOnlyList<(RelayRequest Request, string? Model)> waiting, HostPlacement placement,
        CancellationToken cancellationToken)
    {
        var told = new List<ChatEvent>(waiting.Count);
        foreach (var byModel in waiting.GroupBy(w => w.Model))
        {
            var servers = placement.Hosts.Where(h => h.Serves(byModel.Key)).ToList();
            var position = 0;
            foreach (var (relayRequest, _) in byModel)
            {
                position++;
                var wait = answerTimes.EstimateWait(servers, position);
                told.Add(new ChatEvent(ChatEventTypes.Status, relayRequest.ChatId.Value, relayRequest.Id.Value,
                    Status: AnswerStatuses.Queued, QueuePosition: position,
                    EstimatedWaitSeconds: wait is { } w ? (int)Math.Ceiling(w.TotalSeconds) : null));
            }
        }

        foreach (var chatEvent in told)
        {
            await events.PublishAsync(chatEvent, cancellationToken);
        }
    }
}
