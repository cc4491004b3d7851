using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Abstractions;

public static class ChatEventTypes
{
    /// <summary>A piece of the answer being generated.</summary>
    public const string Delta = "delta";

    /// <summary>A stored message (the answer, a fallback reply or a notice).</summary>
    public const string Message = "message";

    /// <summary>Where a request stands (queued, dispatched, streaming, cancelled, …).</summary>
    public const string Status = "status";

    /// <summary>A request failed; the text is safe to show.</summary>
    public const string Error = "error";
}

/// <summary>
/// What a client streaming a session sees. Flat so every bus (in-memory, Redis) can carry it as JSON.
/// <see cref="Seq"/> numbers the deltas of one request so a client that reconnects drops what it already has.
/// </summary>
public sealed record ChatEvent(
    string Type,
    Guid SessionId,
    Guid? RequestId = null,
    int? Seq = null,
    string? Text = null,
    MessageDto? Message = null,
    string? Status = null,
    string? Error = null,
    int? QueuePosition = null,
    int? EstimatedWaitSeconds = null);
