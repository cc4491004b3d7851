
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// One row per answered request, for the admins' figures. <see cref="InferenceMs"/> is the worker's wall time;
/// <see cref="PromptMs"/> and <see cref="GenerationMs"/> are the engine's own timings, when it reported them.
/// </summary>
public sealed record RequestMetric(
    Guid RequestId, Guid ChatId, DateTimeOffset RecordedAt, int QueueMs, int RelayMs, int? InferenceMs,
    int PromptTokens, int CompletionTokens, bool Fallback, string Outcome, double? PromptMs = null,
    double? GenerationMs = null)
{
    /// <summary>The model that wrote the answer, as its host named it; null for a fallback reply or a notice.</summary>
    public string? Model { get; init; }

    /// <summary>The model host the request was last sent to; null when it never was.</summary>
    public Guid? WorkerId { get; init; }

    /// <summary>
    /// The measured time to first token: from the message being queued to the first piece of its answer with text
    /// (<see cref="Domain.Relay.RelayRequest.FirstPieceAt"/>); null when none arrived.
    /// </summary>
    public int? FirstTokenMs { get; init; }
}

public interface IMetricsRecorder
{
    Task RecordAsync(RequestMetric metric, CancellationToken cancellationToken);
}
