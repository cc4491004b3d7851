using System.Globalization;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.ChatCompletions;

namespace MeatLizard.Infrastructure.Inference.OpenAiCompatible;

/// <summary>
/// One send of a request and its answer's stream, read under a token of its own: until the answer began,
/// <see cref="OpenAiCompatibleOptions.AttemptTimeout"/> cancels it — the server took the request and then said nothing,
/// so the send is given up on (its connection closed, which stops the server) and may be sent again; once the answer
/// began only the request's own cancellation does, since what was passed on is never said twice.
/// </summary>
internal sealed class UpstreamAttempt : IAsyncDisposable
{
    private readonly CancellationTokenSource _silence;
    private readonly ChatCompletionsStream _stream;
    private readonly string _server;
    private readonly TimeSpan _timeout;

    public UpstreamAttempt(
        Func<CancellationToken, Action, ChatCompletionsStream> open, string server, TimeSpan timeout, CancellationToken request)
    {
        _server = server;
        _timeout = timeout;
        _silence = CancellationTokenSource.CreateLinkedTokenSource(request);
        _silence.CancelAfter(timeout);
        _stream = open(_silence.Token, Begun);
    }

    /// <summary>
    /// Sends the request and reads its first update; throws <see cref="UpstreamSilentException"/> when the attempt's
    /// timeout came first, while <paramref name="request"/> (the request's own token) was not cancelled.
    /// </summary>
    public async Task<InferenceUpdate?> FirstAsync(CancellationToken request)
    {
        InferenceUpdate? first;
        try
        {
            first = await _stream.NextAsync();
        }
        catch (Exception ex) when (_silence.IsCancellationRequested && !request.IsCancellationRequested
                                   && ex is OperationCanceledException or HttpRequestException or IOException)
        {
            // A cancelled connect or read may surface as a broken connection: it ended because the timeout did.
            throw new UpstreamSilentException(_server, _timeout, ex);
        }

        // A timeout that fired just before the answer began cancelled the stream for good; nothing was passed on yet,
        // so that send is given up on all the same.
        Begun();
        if (_silence.IsCancellationRequested && !request.IsCancellationRequested)
        {
            throw new UpstreamSilentException(_server, _timeout, null);
        }

        return first;
    }

    /// <summary>
    /// From the answer's first text or tool call piece on, it runs under the request's time alone: an answer of tool
    /// calls only gives its first update when it ends, however long its calls' arguments take to write.
    /// </summary>
    private void Begun() => _silence.CancelAfter(Timeout.InfiniteTimeSpan);

    /// <summary>The next update after the first.</summary>
    public Task<InferenceUpdate?> NextAsync() => _stream.NextAsync();

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _silence.Dispose();
    }
}

/// <summary>
/// The server took the request and said nothing of its answer within <see cref="OpenAiCompatibleOptions.AttemptTimeout"/>
/// (it hung, or stopped before the first token): a failure for now, sent again while retries and the request's time
/// allow, and counted by the circuit breaker.
/// </summary>
internal sealed class UpstreamSilentException(string server, TimeSpan timeout, Exception? inner)
    : InferenceFailedException(
        $"The {server} did not begin its answer within {OpenAiCompatibleOptions.Section}:AttemptTimeoutSeconds " +
        $"({timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s).", inner)
{
    /// <summary>How long it was given, for the retry's log line.</summary>
    public TimeSpan Timeout { get; } = timeout;
}
