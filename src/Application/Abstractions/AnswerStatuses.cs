namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Where a request for an answer stands, as a chat's <see cref="ChatEventTypes.Status"/> events and the stream's first
/// snapshot say it: the one set of names, in C# here and in the web client through the OpenAPI document's
/// <c>AnswerStatus</c> schema.
/// </summary>
public static class AnswerStatuses
{
    /// <summary>Waiting for a model host (with its place in the queue when known).</summary>
    public const string Queued = "queued";

    /// <summary>Stored and waiting, as a snapshot of a stream that (re)connects says it.</summary>
    public const string Pending = "pending";

    /// <summary>Sent to a model host, not yet acknowledged or answering.</summary>
    public const string Dispatched = "dispatched";

    /// <summary>A model host is writing the answer.</summary>
    public const string Streaming = "streaming";

    /// <summary>Its host stopped mid-answer and the request waits for another attempt, which starts the answer over.</summary>
    public const string Requeued = "requeued";

    /// <summary>Answered by the model.</summary>
    public const string Completed = "completed";

    /// <summary>Answered by the fallback (no model host could).</summary>
    public const string Fallback = "fallback";

    /// <summary>Answered with a notice saying why no answer came.</summary>
    public const string Failed = "failed";

    /// <summary>Ran out of time.</summary>
    public const string TimedOut = "timedout";

    /// <summary>Cancelled by its asker (or because its chat was closed).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Every status, for the OpenAPI document.</summary>
    public static readonly IReadOnlyList<string> All =
        [Queued, Pending, Dispatched, Streaming, Requeued, Completed, Fallback, Failed, TimedOut, Cancelled];

    /// <summary>Whether a request with this status may have ended (and so may have a stored answer to read).</summary>
    public static bool MayBeFinished(string? status) => status is not (Queued or Pending or Dispatched or Streaming or Requeued);
}
