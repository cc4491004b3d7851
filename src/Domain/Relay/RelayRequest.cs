using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Relay;

public enum RelayRequestStatus
{
    Pending,
    Dispatched,
    Streaming,
    Completed,
    TimedOut,
    Fallback,
    Failed,
    Cancelled,
}

/// <summary>Why a request stopped waiting for the model host.</summary>
public enum RelayTimeoutReason
{
    /// <summary>No worker sent a heartbeat recently: nobody could answer.</summary>
    NoWorker,

    /// <summary>The worker did not acknowledge the request in time.</summary>
    NoAck,

    /// <summary>The worker acknowledged but did not finish in time.</summary>
    NoCompletion,
}

/// <summary>
/// One request for one answer, on the server side. Only legal transitions happen; events that arrive after the
/// request has ended (a duplicate final, a partial after cancel) are ignored and reported as such, so redelivered
/// envelopes never duplicate answers.
/// </summary>
public sealed class RelayRequest : Entity<RelayRequestId>
{
    private RelayRequest(RelayRequestId id, ChatId chatId, UserId userId, MessageId userMessageId,
        SamplingParameters sampling, RelayRequestStatus status, int attempts, int lastSeq, DateTimeOffset createdAt,
        DateTimeOffset? dispatchedAt, DateTimeOffset? ackedAt, DateTimeOffset? ackDeadline,
        DateTimeOffset? completionDeadline, DateTimeOffset? finishedAt, MessageId? answerMessageId,
        RelayTimeoutReason? timeoutReason, string? error, GenerationOptions options, Guid? workerId, string? routedModel,
        string? traceParent, string? answerStart, DateTimeOffset? firstPieceAt, Guid? ackedByRun, Guid? sentToRun)
        : base(id)
    {
        AnswerStart = answerStart;
        AckedByRun = ackedByRun;
        SentToRun = sentToRun;
        FirstPieceAt = firstPieceAt;
        WorkerId = workerId;
        RoutedModel = routedModel;
        TraceParent = traceParent;
        ChatId = chatId;
        Options = options;
        UserId = userId;
        UserMessageId = userMessageId;
        Sampling = sampling;
        Status = status;
        Attempts = attempts;
        LastSeq = lastSeq;
        CreatedAt = createdAt;
        DispatchedAt = dispatchedAt;
        AckedAt = ackedAt;
        AckDeadline = ackDeadline;
        CompletionDeadline = completionDeadline;
        FinishedAt = finishedAt;
        AnswerMessageId = answerMessageId;
        TimeoutReason = timeoutReason;
        Error = error;
    }

    public ChatId ChatId { get; }

    public UserId UserId { get; }

    public MessageId UserMessageId { get; }

    public SamplingParameters Sampling { get; }

    /// <summary>What this request asks beyond sampling, and how its answer is treated.</summary>
    public GenerationOptions Options { get; }

    /// <summary>
    /// The W3C <c>traceparent</c> of the operation that asked for this answer (an HTTP request, a slash command), kept
    /// with the outbox row so the dispatcher, the model host and the stored answer join the same trace; null for
    /// requests stored before traces were carried.
    /// </summary>
    public string? TraceParent { get; }

    public RelayRequestStatus Status { get; private set; }

    /// <summary>How many times this request was sent to a worker.</summary>
    public int Attempts { get; private set; }

    /// <summary>The highest partial sequence number seen; older or repeated partials are ignored.</summary>
    public int LastSeq { get; private set; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset? DispatchedAt { get; private set; }

    /// <summary>The model host (its worker id) this request was last sent to; null before it is dispatched.</summary>
    public Guid? WorkerId { get; private set; }

    /// <summary>
    /// The model it was sent to its host for, by name; null before it is dispatched, or when it went for the host's
    /// own default. A host's slots per model are counted by it.
    /// </summary>
    public string? RoutedModel { get; private set; }

    public DateTimeOffset? AckedAt { get; private set; }

    /// <summary>
    /// The run of its host (the boot id its heartbeats carry) that acknowledged this attempt; null before an ack, or
    /// when the ack did not say (an older host; a piece that came in its place). Stored with the request, so a
    /// process that never heard that run still knows, on hearing another run of the host, that the request was lost
    /// with it.
    /// </summary>
    public Guid? AckedByRun { get; private set; }

    /// <summary>
    /// The run of its host (the boot id its heartbeats carry) the dispatching process last heard when it sent this
    /// attempt; null before a dispatch, or when that process had heard no run of the host. Stored with the request, so a
    /// process that never heard that run still knows, on hearing a later run of the host, that an attempt the host never
    /// acknowledged is not with the run there now.
    /// </summary>
    public Guid? SentToRun { get; private set; }

    public DateTimeOffset? AckDeadline { get; private set; }

    public DateTimeOffset? CompletionDeadline { get; private set; }

    public DateTimeOffset? FinishedAt { get; private set; }

    public MessageId? AnswerMessageId { get; private set; }

    public RelayTimeoutReason? TimeoutReason { get; private set; }

    public string? Error { get; private set; }

    /// <summary>
    /// The start of the answer that clients were already shown when an earlier attempt's host stopped mid-answer (null
    /// when none was): the next attempt is asked to write on from it rather than start over, so a stream that cannot
    /// take back what it sent (OpenAI's) goes on. A host whose engine cannot continue an answer writes it from the start.
    /// </summary>
    public string? AnswerStart { get; private set; }

    /// <summary>
    /// When the first piece of the answer that carried text arrived: the first partial (or the final, when it came
    /// alone) of the attempt that answered; null until one did. Set once: a repeated or later piece leaves it, and
    /// <see cref="Requeue"/> clears it, as the next attempt starts its own answer. The time to first token is measured
    /// from <see cref="CreatedAt"/> to it.
    /// </summary>
    public DateTimeOffset? FirstPieceAt { get; private set; }

    public bool IsFinished => Status is RelayRequestStatus.Completed or RelayRequestStatus.Fallback
        or RelayRequestStatus.Failed or RelayRequestStatus.Cancelled;

    /// <summary>Still waiting on a worker: dispatched or streaming.</summary>
    public bool IsInFlight => Status is RelayRequestStatus.Dispatched or RelayRequestStatus.Streaming;

    public static RelayRequest Create(ChatId chatId, UserId userId, MessageId userMessageId,
        SamplingParameters sampling, DateTimeOffset now, GenerationOptions? options = null, string? traceParent = null) =>
        new(RelayRequestId.New(), chatId, userId, userMessageId, sampling, RelayRequestStatus.Pending, 0, 0, now,
            null, null, null, null, null, null, null, null, options ?? GenerationOptions.None, null, null, traceParent, null, null,
            null, null);

    public static RelayRequest Restore(RelayRequestId id, ChatId chatId, UserId userId, MessageId userMessageId,
        SamplingParameters sampling, RelayRequestStatus status, int attempts, int lastSeq, DateTimeOffset createdAt,
        DateTimeOffset? dispatchedAt, DateTimeOffset? ackedAt, DateTimeOffset? ackDeadline,
        DateTimeOffset? completionDeadline, DateTimeOffset? finishedAt, MessageId? answerMessageId,
        RelayTimeoutReason? timeoutReason, string? error, GenerationOptions? options = null, Guid? workerId = null,
        string? routedModel = null, string? traceParent = null, string? answerStart = null,
        DateTimeOffset? firstPieceAt = null, Guid? ackedByRun = null, Guid? sentToRun = null) =>
        new(id, chatId, userId, userMessageId, sampling, status, attempts, lastSeq, createdAt, dispatchedAt,
            ackedAt, ackDeadline, completionDeadline, finishedAt, answerMessageId, timeoutReason, error,
            options ?? GenerationOptions.None, workerId, routedModel, traceParent, answerStart, firstPieceAt, ackedByRun,
            sentToRun);

    /// <summary>
    /// Pending → Dispatched: the request left for a worker (<paramref name="workerId"/>, when the relay chose one host;
    /// for its model <paramref name="routedModel"/>, when named; to its run <paramref name="sentToRun"/>, when the relay
    /// has heard one) and must be acknowledged by the ack deadline.
    /// </summary>
    public void Dispatch(DateTimeOffset now, TimeSpan ackTimeout, TimeSpan completionTimeout, Guid? workerId = null,
        string? routedModel = null, Guid? sentToRun = null)
    {
        Require(RelayRequestStatus.Pending, "dispatched");
        if (ackTimeout <= TimeSpan.Zero || completionTimeout <= TimeSpan.Zero)
        {
            throw new DomainException("Relay timeouts must be positive.", DomainErrorKind.Invalid);
        }

        Status = RelayRequestStatus.Dispatched;
        WorkerId = workerId;
        RoutedModel = routedModel;
        SentToRun = workerId is null ? null : sentToRun;
        Attempts++;
        DispatchedAt = now;
        AckDeadline = now + ackTimeout;
        CompletionDeadline = now + completionTimeout;
    }

    /// <summary>
    /// Sequence numbers of a worker's envelopes for attempt n (n = 1, 2, …) start at (n - 1) × this: the envelopes of a
    /// request sent again to another host never repeat those of the first (the replay guard would refuse them) and
    /// always come after them.
    /// </summary>
    public const int SeqPerAttempt = 1_000_000;

    /// <summary>The attempt a worker's envelope with sequence number <paramref name="seq"/> belongs to.</summary>
    public static int AttemptOf(int seq) => (Math.Max(0, seq) / SeqPerAttempt) + 1;

    /// <summary>
    /// Whether the piece <paramref name="seq"/> follows <paramref name="previousSeq"/> with none missing: the next
    /// number, or (<paramref name="previousSeq"/> 0, nothing before it) an attempt's first.
    /// </summary>
    public static bool FollowsOn(int previousSeq, int seq) =>
        previousSeq == 0 ? seq % SeqPerAttempt == 1 : seq == previousSeq + 1;

    /// <summary>
    /// In flight → Pending again: its host went away (stopped, or no heartbeat) before answering, so another host may
    /// take it. Returns false when it is not in flight. The next attempt's pieces come after the first host's
    /// (<see cref="SeqPerAttempt"/>); <paramref name="shown"/>, the text clients were shown of this attempt, becomes the
    /// <see cref="AnswerStart"/> the next attempt writes on from (an attempt that showed nothing keeps the start it had).
    /// </summary>
    public bool Requeue(string? shown = null)
    {
        if (!IsInFlight)
        {
            return false;
        }

        if (!string.IsNullOrEmpty(shown))
        {
            AnswerStart = shown;
        }

        Status = RelayRequestStatus.Pending;
        FirstPieceAt = null;
        WorkerId = null;
        RoutedModel = null;
        AckedAt = null;
        AckedByRun = null;
        SentToRun = null;
        AckDeadline = null;
        CompletionDeadline = null;
        return true;
    }

    /// <summary>
    /// The worker confirmed it has the request; <paramref name="run"/>: the run of the host that took it, when the ack
    /// says. Returns false when the ack changes nothing (late or repeated).
    /// </summary>
    public bool Acknowledge(DateTimeOffset now, Guid? run = null)
    {
        if (!IsInFlight || AckedAt is not null)
        {
            return false;
        }

        AckedAt = now;
        AckedByRun = run;
        return true;
    }

    /// <summary>
    /// A piece of output arrived; <paramref name="carriesText"/>: it holds some of the answer's text (the first such
    /// piece sets <see cref="FirstPieceAt"/>). Returns false (and changes nothing) when it is late, repeated or out of order.
    /// </summary>
    public bool ReceivePartial(int seq, DateTimeOffset now, bool carriesText = true)
    {
        if (!IsInFlight || seq <= LastSeq)
        {
            return false;
        }

        AckedAt ??= now;
        if (carriesText)
        {
            FirstPieceAt ??= now;
        }

        LastSeq = seq;
        Status = RelayRequestStatus.Streaming;
        return true;
    }

    /// <summary>
    /// The answer is stored. Completing twice is a no-op, and so is a final that arrives after the request
    /// timed out, fell back or was cancelled: returns false and nothing changes. <paramref name="carriesText"/>: the
    /// answer holds text, so a final that came with no piece before it is the first piece (<see cref="FirstPieceAt"/>).
    /// </summary>
    public bool Complete(MessageId answerMessageId, DateTimeOffset now, bool carriesText = true)
    {
        if (!IsInFlight)
        {
            return false;
        }

        if (carriesText)
        {
            FirstPieceAt ??= now;
        }

        Status = RelayRequestStatus.Completed;
        AnswerMessageId = answerMessageId;
        FinishedAt = now;
        return true;
    }

    /// <summary>The worker reported an error. Returns false when the request had already ended.</summary>
    public bool Fail(string error, MessageId? noticeMessageId, DateTimeOffset now)
    {
        if (IsFinished || Status == RelayRequestStatus.TimedOut)
        {
            return false;
        }

        Status = RelayRequestStatus.Failed;
        Error = string.IsNullOrWhiteSpace(error) ? "unknown error" : error;
        AnswerMessageId = noticeMessageId;
        FinishedAt = now;
        return true;
    }

    /// <summary>
    /// The deadline the request waits on a worker for now: its ack deadline until it is acknowledged (or the completion
    /// deadline, if that comes first), then its completion deadline; null when it waits on no worker.
    /// </summary>
    public DateTimeOffset? NextDeadline =>
        !IsInFlight ? null
        : AckedAt is null && AckDeadline is { } ack && !(CompletionDeadline < ack) ? ack
        : CompletionDeadline;

    /// <summary>True when the request waits on a worker past its ack or completion deadline.</summary>
    public bool IsOverdue(DateTimeOffset now) =>
        IsInFlight && ((AckedAt is null && now >= AckDeadline) || now >= CompletionDeadline);

    /// <summary>Pending or in flight → TimedOut: the fallback will answer instead.</summary>
    public void TimeOut(RelayTimeoutReason reason, DateTimeOffset now)
    {
        if (Status is not (RelayRequestStatus.Pending or RelayRequestStatus.Dispatched or RelayRequestStatus.Streaming))
        {
            throw new DomainException($"A request that is {Status} cannot time out.");
        }

        Status = RelayRequestStatus.TimedOut;
        TimeoutReason = reason;
        FinishedAt = now;
    }

    /// <summary>TimedOut → Fallback: the fallback's reply (or notice) is stored as the answer.</summary>
    public void FallBack(MessageId answerMessageId, DateTimeOffset now)
    {
        Require(RelayRequestStatus.TimedOut, "answered by the fallback");
        Status = RelayRequestStatus.Fallback;
        AnswerMessageId = answerMessageId;
        FinishedAt = now;
    }

    /// <summary>
    /// The user stopped the generation; <paramref name="keptAnswerId"/> is the message holding what was produced so far,
    /// if anything. Returns false when there was nothing left to stop.
    /// </summary>
    public bool Cancel(DateTimeOffset now, MessageId? keptAnswerId = null)
    {
        if (Status is not (RelayRequestStatus.Pending or RelayRequestStatus.Dispatched or RelayRequestStatus.Streaming))
        {
            return false;
        }

        Status = RelayRequestStatus.Cancelled;
        AnswerMessageId = keptAnswerId;
        FinishedAt = now;
        return true;
    }

    private void Require(RelayRequestStatus expected, string action)
    {
        if (Status != expected)
        {
            throw new DomainException($"Only a {expected} request can be {action}; this one is {Status}.");
        }
    }
}

