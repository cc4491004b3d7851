using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Inference;

public enum InferenceJobStatus
{
    Received,
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>A decrypted request being served by a worker, with its timings and token counts.</summary>
public sealed class InferenceJob : Entity<InferenceJobId>
{
    private InferenceJob(InferenceJobId id, RelayRequestId requestId, ChatId chatId, DateTimeOffset receivedAt)
        : base(id)
    {
        RequestId = requestId;
        ChatId = chatId;
        ReceivedAt = receivedAt;
    }

    public RelayRequestId RequestId { get; }

    public ChatId ChatId { get; }

    public InferenceJobStatus Status { get; private set; } = InferenceJobStatus.Received;

    public DateTimeOffset ReceivedAt { get; }

    public DateTimeOffset? StartedAt { get; private set; }

    public DateTimeOffset? FirstTokenAt { get; private set; }

    public DateTimeOffset? FinishedAt { get; private set; }

    public int PromptTokens { get; private set; }

    public int CompletionTokens { get; private set; }

    public string? Error { get; private set; }

    public bool IsFinished => Status is InferenceJobStatus.Completed or InferenceJobStatus.Failed
        or InferenceJobStatus.Cancelled;

    public TimeSpan? QueueTime => StartedAt - ReceivedAt;

    public TimeSpan? TimeToFirstToken => FirstTokenAt - StartedAt;

    public TimeSpan? RunTime => FinishedAt - StartedAt;

    public static InferenceJob Receive(RelayRequestId requestId, ChatId chatId, DateTimeOffset now) =>
        new(InferenceJobId.New(), requestId, chatId, now);

    public void Start(DateTimeOffset now)
    {
        if (Status != InferenceJobStatus.Received)
        {
            throw new DomainException($"Only a received job can start; this one is {Status}.");
        }

        Status = InferenceJobStatus.Running;
        StartedAt = now;
    }

    /// <summary>
    /// Output of <paramref name="tokens"/> tokens. Text of no token is not the engine's writing (the start of an answer
    /// an earlier attempt had shown, given back first): it starts no time to first token.
    /// </summary>
    public void RecordOutput(int tokens, DateTimeOffset now)
    {
        if (Status != InferenceJobStatus.Running)
        {
            throw new DomainException($"Only a running job produces output; this one is {Status}.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (tokens > 0)
        {
            FirstTokenAt ??= now;
        }

        CompletionTokens += tokens;
    }

    public void Complete(int promptTokens, int completionTokens, DateTimeOffset now)
    {
        if (Status != InferenceJobStatus.Running)
        {
            throw new DomainException($"Only a running job can complete; this one is {Status}.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(promptTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(completionTokens);
        Status = InferenceJobStatus.Completed;
        PromptTokens = promptTokens;
        CompletionTokens = completionTokens;
        FinishedAt = now;
    }

    public void Fail(string error, DateTimeOffset now)
    {
        if (IsFinished)
        {
            throw new DomainException($"A job that is {Status} cannot fail.");
        }

        Status = InferenceJobStatus.Failed;
        Error = string.IsNullOrWhiteSpace(error) ? "unknown error" : error;
        FinishedAt = now;
    }

    /// <summary>Cancelling a finished job changes nothing and returns false.</summary>
    public bool Cancel(DateTimeOffset now)
    {
        if (IsFinished)
        {
            return false;
        }

        Status = InferenceJobStatus.Cancelled;
        FinishedAt = now;
        return true;
    }
}
