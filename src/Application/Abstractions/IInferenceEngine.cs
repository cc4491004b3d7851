using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Abstractions;

/// <summary>What to generate: the conversation so far (already cut to the context budget) and sampling settings.</summary>
public sealed record InferenceRequest(
    Guid RequestId,
    Guid ChatId,
    string? Model,
    string? SystemPrompt,
    IReadOnlyList<ChatTurn> Turns,
    double? Temperature,
    double? TopP,
    int? MaxTokens,
    GenerationExtras? Extras = null)
{
    /// <summary>
    /// The start of the answer an earlier attempt already showed (<see cref="Domain.Relay.RelayRequest.AnswerStart"/>),
    /// null when there is none. An engine that can continue an answer (llama-server, by prefilling it as the assistant's
    /// message) gives this text as its first delta and writes on from it; one that cannot ignores it and answers from the
    /// start, which the followers of the answer see as an answer written again.
    /// </summary>
    public string? AnswerStart { get; init; }

    /// <summary>
    /// The start to continue from, when the engine is asked to: null when there is none, or when the request asks for
    /// tools (a prefilled answer cannot become a tool call).
    /// </summary>
    public string? StartToContinue => string.IsNullOrEmpty(AnswerStart) || Extras?.Tools is not null ? null : AnswerStart;
}

/// <summary>
/// What a request may ask of the engine beyond sampling (from OpenAI's chat completions): sequences that end the
/// answer, a seed, presence and frequency penalties, and a structured-output request (<c>response_format</c>, JSON).
/// Null or absent on a plain send.
/// </summary>
/// <remarks>
/// <c>Tools</c>, <c>ToolChoice</c> (JSON, OpenAI's shapes) and <c>ParallelToolCalls</c> were added later: absent from
/// older servers, and an older host ignores them (the server sends a request with tools only to a host that says its
/// model takes them, <see cref="EngineHealth.TakesTools"/>).
/// </remarks>
public sealed record GenerationExtras(
    IReadOnlyList<string>? Stop = null, long? Seed = null, double? PresencePenalty = null,
    double? FrequencyPenalty = null, string? ResponseFormat = null, string? Tools = null, string? ToolChoice = null,
    bool? ParallelToolCalls = null)
{
    /// <summary>The request's options as the engine needs them; null when they ask nothing of it.</summary>
    public static GenerationExtras? Of(Domain.Relay.GenerationOptions options) =>
        options.Stop.Count == 0 && options.Seed is null && options.PresencePenalty is null
        && options.FrequencyPenalty is null && options.ResponseFormat is null && options.Tools is null
            ? null
            : new GenerationExtras(options.Stop.Count == 0 ? null : options.Stop, options.Seed, options.PresencePenalty,
                options.FrequencyPenalty, options.ResponseFormat, options.Tools, options.ToolChoice,
                options.ParallelToolCalls);
}

public abstract record InferenceUpdate;

/// <summary>New text; <see cref="Tokens"/> is how many tokens it holds.</summary>
public sealed record InferenceDelta(string Text, int Tokens) : InferenceUpdate;

/// <summary>
/// The last update of a successful generation: the token counts as the engine's tokenizer counted them, and its own
/// timings when it reports them.
/// </summary>
/// <remarks><see cref="ToolCalls"/>: the tool calls the answer asks for (its finish reason then <c>tool_calls</c>).</remarks>
public sealed record InferenceCompleted(
    int PromptTokens, int CompletionTokens, string FinishReason, InferenceTimings? Timings = null) : InferenceUpdate
{
    public IReadOnlyList<Domain.Messages.ToolCall>? ToolCalls { get; init; }
}

/// <summary>
/// What the engine measured: milliseconds spent reading the prompt and generating the answer, and how many prompt
/// tokens it took from its cache instead of reading them.
/// </summary>
public sealed record InferenceTimings(double PromptMs, double GenerationMs, int CachedPromptTokens = 0)
{
    /// <summary>Generation speed for <paramref name="completionTokens"/>; null when no time was measured.</summary>
    public double? TokensPerSecond(int completionTokens) =>
        GenerationMs > 0 ? completionTokens * 1000.0 / GenerationMs : null;
}

/// <summary>
/// Whether the engine can answer now; <paramref name="Loading"/> when it cannot yet but will by itself (the model is
/// loading), so requests may wait for it instead of going to the fallback. <paramref name="Slots"/> is how many
/// requests it answers at once, when it knows (llama-server's parallel slots): the relay sends a host no more than
/// that. <paramref name="Models"/> are the public names of the models it serves, when it chooses between several
/// (null: the one model of <c>Inference:ModelName</c>).
/// </summary>
public sealed record EngineHealth(
    bool Ready, string? Detail, bool Loading = false, int? Slots = null, IReadOnlyList<string>? Models = null)
{
    /// <summary>
    /// Each model's own slots and context, when the engine runs each model apart (one llama-server per model): the
    /// relay then sends a host no more requests for a model than that model's slots. Null when its models share the
    /// host's slots (or it serves one).
    /// </summary>
    public IReadOnlyList<ModelCapacity>? Capacities { get; init; }

    /// <summary>
    /// Every model it serves takes tools (OpenAI's function calling: tool definitions in, tool calls out, tool results
    /// in the conversation).
    /// </summary>
    public bool TakesTools { get; init; }

    /// <summary>
    /// Not ready because the engine stopped under the host (its process died) and the host is starting it again by
    /// itself: the relay sends this host nothing meanwhile and keeps requests queued for it or another host, instead of
    /// letting the fallback answer them. A restart that fails ends it (not ready, not restarting: the fallback answers).
    /// </summary>
    public bool Restarting { get; init; }

    /// <summary>
    /// The models it makes embeddings with (an <see cref="IEmbeddingEngine"/>), each with its vector length when known;
    /// null or empty when it makes none.
    /// </summary>
    public IReadOnlyList<EmbeddingModel>? Embeddings { get; init; }

    /// <summary>
    /// The models it takes images with (a model with a multimodal projector, or an upstream model said to see), by name
    /// (<c>""</c>: an engine of one model that does not know the host's name for it); null or empty when none does.
    /// </summary>
    public IReadOnlyList<string>? Vision { get; init; }
}

/// <summary>
/// What a model host says of one model it serves: its slots (null: it shares the host's), its context size, how many
/// requests it is answering now and how fast it has generated (tokens per second; null before its first answer).
/// </summary>
/// <remarks>
/// <c>Embeddings</c> (added later; absent means false): the model makes embeddings, <c>EmbeddingWidth</c> their vector
/// length when the host knows it, <c>Dimensions</c> whether it takes a shorter length asked for (OpenAI's
/// <c>dimensions</c>). <c>Vision</c> (added later; absent means false): the model takes images in the conversation.
/// </remarks>
public sealed record ModelCapacity(
    string Name, int? Slots = null, int? ContextSize = null, int Jobs = 0, double? TokensPerSecond = null,
    bool Embeddings = false, int? EmbeddingWidth = null, bool Dimensions = false, bool Vision = false);

/// <summary>
/// A model runner. Streams deltas then one <see cref="InferenceCompleted"/>; cancelling the token stops generation.
/// Throws <see cref="InferenceFailedException"/> with a message safe to show when it cannot answer.
/// </summary>
public interface IInferenceEngine
{
    string Name { get; }

    Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken);

    IAsyncEnumerable<InferenceUpdate> GenerateAsync(InferenceRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// An engine whose health changes by itself (its process died, a restart became ready): the host sends a heartbeat as
/// soon as it does, not at the next interval, so the relay stops or resumes sending it work at once.
/// </summary>
public interface IEngineHealthChanges
{
    event Action? HealthChanged;
}

/// <summary>An engine could not answer; the message says why, in words a user may read (never the answer's text).</summary>
public class InferenceFailedException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>
    /// The engine itself went away mid-answer (its process died and is being started again), not the question: the
    /// same question may well be answered by the engine's next run, so the host hands it back instead of failing it.
    /// </summary>
    public bool EngineLost { get; init; }

    /// <summary>
    /// What the engine answers from is out of reach or refusing for now (an upstream server, after its retries, or with
    /// its circuit breaker open), and nothing of the answer was given: another host serving the model may answer it.
    /// </summary>
    public bool Unavailable { get; init; }

    /// <summary>
    /// The engine refused the input itself (an embedding input longer than its batch or context, say): the caller's to
    /// change — no other host would take it — told to the caller as bad input naming it, never as the service failing.
    /// </summary>
    public bool InputRefused { get; init; }
}
