using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Channels;

/// <summary>
/// The one handler behind every chat network. Each question runs in a scope of its own whose caller is the member's
/// user (<see cref="ChannelCaller"/>), where <see cref="ChannelQuestions"/> decides its chat and
/// <see cref="ChannelAnswering"/> asks and shows the answer: bans, the per-user and per-guild limits, history, the
/// relay, metrics and the fallback apply exactly as for a web chat. A question already being handled in this process
/// (delivered again meanwhile) is left to that handling. However many server bots run (each receives every message),
/// one handles a question at a time: its handling holds the question's lease (<see cref="DutyRunner.RunOnceAsync"/>);
/// the others wait, and find it answered — or, when the one handling it died, take it over once its lease lapsed and
/// finish it as a restart would (the request it became is followed, the reply posted so far edited).
/// </summary>
public sealed partial class ChannelConversations(
    IServiceScopeFactory scopes, DutyRunner duties, IClock clock, ILogger<ChannelConversations> logger)
    : IChannelConversations
{
    /// <summary>How far back a stop's unanswered questions are finished at the next start.</summary>
    public static readonly TimeSpan ResumeWindow = TimeSpan.FromHours(1);

    private const int MaxResumed = 100;

    /// <summary>How long a question is handled again through a database outage before it is given up.</summary>
    public static readonly TimeSpan OutageRetryLimit = TimeSpan.FromSeconds(60);

    // The questions this process is answering now: one delivered again meanwhile is left to the running handling.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string, string), byte> _answering = new();

    public async Task HandleAsync(IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(message);
        var key = (adapter.Network, message.Place.ChatId, message.MessageId);
        if (!_answering.TryAdd(key, 0))
        {
            return;
        }

        try
        {
            await ThroughOutagesAsync(adapter.Network, () => duties.RunOnceAsync(DutyOf(key), async held =>
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<ChannelQuestions>().HandleAsync(adapter, message, held);
            }, cancellationToken), cancellationToken);
        }
        finally
        {
            _answering.TryRemove(key, out _);
        }
    }

    /// <summary>
    /// Handles a question again, with growing pauses, while the database is away (restarting, a dropped connection),
    /// for up to <see cref="OutageRetryLimit"/>: nobody sends it again as a web client would, and handling it again is
    /// safe — a question already recorded is followed to its answer, never asked a second time
    /// (<see cref="ChannelQuestions"/>).
    /// </summary>
    private Task ThroughOutagesAsync(string network, Func<Task> handle, CancellationToken cancellationToken) =>
        DatabaseFailures.ThroughOutagesAsync(handle, OutageRetryLimit, cancellationToken,
            (failure, pause) => LogHandledAgain(logger, network, (int)pause.TotalMilliseconds, failure.GetType().Name));

    /// <summary>
    /// Finishes the questions of <paramref name="adapter"/>'s network that a stop left unanswered (asked within
    /// <see cref="ResumeWindow"/>): each follows the request it became, and its answer is shown as if nothing happened
    /// (the first reply, if one was posted, is edited). For a network that does not deliver a message again after a
    /// restart (Discord's gateway); one that does (Telegram's getUpdates) finds the question again in
    /// <see cref="HandleAsync"/>.
    /// </summary>
    public async Task ResumeAsync(IChannelAdapter adapter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        IReadOnlyList<ChannelQuestion> unanswered;
        await using (var scope = scopes.CreateAsyncScope())
        {
            unanswered = await scope.ServiceProvider.GetRequiredService<IChannelConversationStore>()
                .ListUnansweredQuestionsAsync(adapter.Network, clock.UtcNow - ResumeWindow, MaxResumed, cancellationToken);
        }

        await Task.WhenAll(unanswered.Select(question => ResumeOneAsync(adapter, question, cancellationToken)));
    }

    private async Task ResumeOneAsync(IChannelAdapter adapter, ChannelQuestion question, CancellationToken cancellationToken)
    {
        var key = (adapter.Network, question.ChatId, question.MessageId);
        if (!_answering.TryAdd(key, 0))
        {
            return;
        }

        try
        {
            await ThroughOutagesAsync(adapter.Network, () => duties.RunOnceAsync(DutyOf(key), async held =>
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<ChannelQuestions>().ResumeAsync(adapter, question, held);
            }, cancellationToken), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogResumeFailed(logger, adapter.Network, question.ChatId, ex);
        }
        finally
        {
            _answering.TryRemove(key, out _);
        }
    }

    /// <summary>The lease one question's handling holds, across every process that serves its network.</summary>
    public static string DutyOf((string Network, string ChatId, string MessageId) question) =>
        $"channel-question:{question.Network}:{question.ChatId}:{question.MessageId}";

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "A {Network} question met the database away ({Failure}); handling it again in {PauseMs} ms")]
    private static partial void LogHandledAgain(ILogger logger, string network, int pauseMs, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "Finishing an unanswered question in {Network} chat {ChatId} failed")]
    private static partial void LogResumeFailed(ILogger logger, string network, string chatId, Exception exception);
}
