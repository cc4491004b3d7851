using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Messages;

/// <summary>
/// Reads one request's events for <see cref="AnswerFollower"/>, one at a time, typed; every
/// <see cref="AnswerFollower.RecheckInterval"/> the wait for the next stops (never the read itself, so the event it was
/// waiting for is still read after) for a look at the stored request. One timer at a time, not one per event.
/// </summary>
internal sealed class AnswerEventReader(IAsyncEnumerator<ChatEvent> reading, Guid requestId, CancellationTokenSource deadline)
    : IAsyncDisposable
{
    private Task<bool>? _next;
    private Task? _recheck;

    /// <summary>
    /// The request's next update, or null (with whether the events are still open) when a recheck is due, the
    /// events ended or the deadline passed.
    /// </summary>
    public async Task<(AnswerUpdate? Update, bool Open)> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            _next ??= reading.MoveNextAsync().AsTask();
            _recheck ??= Task.Delay(AnswerFollower.RecheckInterval, deadline.Token);
            bool read;
            try
            {
                if (await Task.WhenAny(_next, _recheck) == _recheck)
                {
                    var due = _recheck;
                    _recheck = null;
                    await due; // throws when the deadline passed
                    return (null, true);
                }

                read = await _next;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (null, false); // out of time
            }

            _next = null;
            if (!read)
            {
                return (null, false);
            }

            if (Translate(reading.Current, requestId) is { } update)
            {
                return (update, true);
            }
        }
    }

    /// <summary>Waits a recheck interval (or to the deadline) before the stored request is looked at again.</summary>
    public async Task PauseAsync()
    {
        try
        {
            await Task.Delay(AnswerFollower.RecheckInterval, deadline.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Ends a read still pending, and the recheck's timer with it: left to run, it would fire a recheck interval after
        // the answer was followed (one timer per followed answer alive for that long).
        await deadline.CancelAsync();
        if (_next is not null)
        {
            try
            {
                await _next;
            }
            catch (OperationCanceledException)
            {
            }
        }

        await reading.DisposeAsync();
    }

    private static AnswerUpdate? Translate(ChatEvent chatEvent, Guid requestId)
    {
        if (chatEvent.RequestId != requestId)
        {
            return null;
        }

        return chatEvent switch
        {
            // A numbered piece with no text still counts in the order (the follower tells no empty words).
            { Type: ChatEventTypes.Delta, Text: { } text } when text.Length > 0 || chatEvent.Seq > 0 =>
                new AnswerWords(text, chatEvent.Seq ?? 0),
            // The answer is published only once stored, so the event's copy is the stored message.
            { Type: ChatEventTypes.Message, Message: { } answer } => new AnswerGiven(answer),
            { Type: ChatEventTypes.Status, Status: AnswerStatuses.Requeued } => new AnswerStartedOver(),
            { Type: ChatEventTypes.Status, Status: { } status } => new AnswerStatusChanged(status, chatEvent.QueuePosition),
            _ => null,
        };
    }
}
