using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Inference;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference;

/// <summary>
/// What a job tells the server, each envelope numbered by the job: a plain ack, the answer's pieces, the final with the
/// whole answer and who wrote it, or an error (which never throws: the server's deadline ends a request whose error
/// could not be sent).
/// </summary>
public sealed partial class JobEnvelopes(
    HostRelay relay, HostJobs jobs, IOptions<InferenceOptions> inference, ILogger<JobEnvelopes> logger)
{
    public ValueTask AckAsync(InferenceRequest request, int seq, CancellationToken cancellationToken) =>
        BeginningAsync(request, seq,
            relay.SendAsync(EnvelopeType.Ack, request.ChatId, request.RequestId, seq, new AckBody(jobs.WorkerId, jobs.BootId),
                cancellationToken));

    public ValueTask PartialAsync(InferenceRequest request, int seq, string text, CancellationToken cancellationToken) =>
        BeginningAsync(request, seq,
            relay.SendAsync(EnvelopeType.Partial, request.ChatId, request.RequestId, seq, new PartialBody(text),
                cancellationToken));

    /// <summary>
    /// Sends an envelope, and when it may be the attempt's first (an ack, a first piece that acknowledges, a final that
    /// comes alone: numbered first or second in the attempt) notes the attempt begun: a later run of this host, reading
    /// the dispatch again, leaves it to the server (<see cref="HostJobs.BegunByAnEarlierRun"/>).
    /// </summary>
    private async ValueTask BeginningAsync(InferenceRequest request, int seq, ValueTask sending)
    {
        await sending;
        if (seq % RelayRequest.SeqPerAttempt <= 1)
        {
            jobs.NoteBegun(request.RequestId, RelayRequest.AttemptOf(seq));
        }
    }

    /// <summary>The whole answer, its counts and timings; sent even while the job is being stopped.</summary>
    public ValueTask FinalAsync(InferenceRequest request, int seq, InferenceJob job, string content, int inferenceMs,
        InferenceCompleted? completed)
    {
        var timings = completed?.Timings;
        return BeginningAsync(request, seq, relay.SendAsync(EnvelopeType.Final, request.ChatId, request.RequestId, seq,
            new FinalBody(content, job.PromptTokens, job.CompletionTokens, inferenceMs, completed?.FinishReason ?? "stop",
                timings?.PromptMs, timings?.GenerationMs, timings?.CachedPromptTokens, AnsweredBy(request.Model),
                completed?.ToolCalls.ToDtos()),
            CancellationToken.None));
    }

    /// <summary>
    /// An error for a request this host does not take (it drains, or its last run had begun it), numbered as the
    /// attempt's last possible envelope: never one a run of this host sent for that attempt before (the server's replay
    /// guard would drop it).
    /// </summary>
    public ValueTask RefuseAsync(RelayEnvelope request, ErrorBody error, CancellationToken cancellationToken) =>
        relay.SendAsync(EnvelopeType.Error, request.SessionId, request.RequestId,
            (Math.Max(1, request.Seq) * RelayRequest.SeqPerAttempt) - 1, error, cancellationToken);

    /// <summary>The refusal of a host that drains and takes no new request.</summary>
    public static readonly ErrorBody Draining =
        new(RelayErrorCodes.Draining, "the model host is shutting down; try again shortly");

    /// <summary>
    /// The hand-back of a request whose attempt this host's last run had begun (<see cref="HostJobs.BegunByAnEarlierRun"/>):
    /// the server sends it again, going on from what was shown.
    /// </summary>
    public static readonly ErrorBody Restarted =
        new(RelayErrorCodes.Restarted, "the model host restarted while it answered; it is asked again");

    public async Task ErrorSafelyAsync(InferenceRequest request, int seq, ErrorBody error)
    {
        try
        {
            await relay.SendAsync(EnvelopeType.Error, request.ChatId, request.RequestId, seq, error,
                CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The server times the request out and falls back; nothing more to do here.
            LogSendFailed(logger, request.RequestId, ex.GetType().Name);
        }
    }

    /// <summary>
    /// The model that answered: the one asked for when this host serves it by that name, else the host's own (the first
    /// it serves, as its heartbeat lists them).
    /// </summary>
    public string? AnsweredBy(string? asked)
    {
        var served = jobs.ServedModels ?? inference.Value.ServedModelNames();
        return asked is not null && served.Contains(asked, StringComparer.Ordinal) ? asked : served.FirstOrDefault();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report the failure of request {RequestId} ({ErrorType})")]
    private static partial void LogSendFailed(ILogger logger, Guid requestId, string errorType);
}
