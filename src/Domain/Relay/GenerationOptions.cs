using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Relay;

/// <summary>
/// What one request asks of the generation beyond the chat's sampling settings — OpenAI's <c>stop</c>, <c>seed</c>,
/// penalties and <c>response_format</c> — and how the platform treats its answer: <see cref="ModelOnly"/> (no fallback
/// pretends to be the model; a notice answers instead) and <see cref="KeepNothing"/> (the chat is deleted once
/// answered). The web app's sends use <see cref="None"/>.
/// </summary>
public sealed record GenerationOptions
{
    public const int MaxStopSequences = 4;
    public const int MaxStopLength = 200;
    public const double MaxPenalty = 2.0;
    public const int MaxResponseFormatLength = 16_000;
    public const int MaxToolsLength = 100_000;

    public static readonly GenerationOptions None = new();

    public IReadOnlyList<string> Stop { get; private init; } = [];

    public long? Seed { get; private init; }

    public double? PresencePenalty { get; private init; }

    public double? FrequencyPenalty { get; private init; }

    /// <summary>The engine's structured-output request as JSON (OpenAI's <c>response_format</c> object), or null.</summary>
    public string? ResponseFormat { get; private init; }

    /// <summary>
    /// The functions the model may call, as JSON (OpenAI's <c>tools</c> array, each checked by the API), or null.
    /// </summary>
    public string? Tools { get; private init; }

    /// <summary>Whether and which tool the model must call, as JSON (OpenAI's <c>tool_choice</c>), or null (auto).</summary>
    public string? ToolChoice { get; private init; }

    /// <summary>Whether the model may ask for several calls in one answer (OpenAI's <c>parallel_tool_calls</c>), or null.</summary>
    public bool? ParallelToolCalls { get; private init; }

    public bool ModelOnly { get; private init; }

    public bool KeepNothing { get; private init; }

    public bool IsNone => this == None;

    /// <summary>Checks every value; a bad one is refused naming its field (OpenAI's parameter name).</summary>
    public static GenerationOptions Create(IReadOnlyList<string>? stop = null, long? seed = null,
        double? presencePenalty = null, double? frequencyPenalty = null, string? responseFormat = null,
        bool modelOnly = false, bool keepNothing = false, string? tools = null, string? toolChoice = null,
        bool? parallelToolCalls = null)
    {
        stop ??= [];
        if (stop.Count > MaxStopSequences)
        {
            throw new DomainException($"At most {MaxStopSequences} stop sequences.", DomainErrorKind.Invalid, "stop");
        }

        if (stop.Any(s => string.IsNullOrEmpty(s) || s.Length > MaxStopLength))
        {
            throw new DomainException($"A stop sequence has 1 to {MaxStopLength} characters.", DomainErrorKind.Invalid,
                "stop");
        }

        if (seed is { } s && (s < 0 || s > uint.MaxValue))
        {
            throw new DomainException($"The seed is between 0 and {uint.MaxValue}.", DomainErrorKind.Invalid, "seed");
        }

        CheckPenalty(presencePenalty, "presence_penalty");
        CheckPenalty(frequencyPenalty, "frequency_penalty");
        if (responseFormat is { Length: > MaxResponseFormatLength })
        {
            throw new DomainException($"The response format has at most {MaxResponseFormatLength} characters.",
                DomainErrorKind.TooLarge, "response_format");
        }

        if (tools is { Length: > MaxToolsLength })
        {
            throw new DomainException($"The tools hold at most {MaxToolsLength} characters of JSON.",
                DomainErrorKind.TooLarge, "tools");
        }

        if (tools is null && toolChoice is not null)
        {
            throw new DomainException("'tool_choice' chooses among 'tools', and none are given.", DomainErrorKind.Invalid,
                "tool_choice");
        }

        return new GenerationOptions
        {
            Tools = tools,
            ToolChoice = toolChoice,
            ParallelToolCalls = parallelToolCalls,
            Stop = [.. stop],
            Seed = seed,
            PresencePenalty = presencePenalty,
            FrequencyPenalty = frequencyPenalty,
            ResponseFormat = responseFormat,
            ModelOnly = modelOnly,
            KeepNothing = keepNothing,
        };
    }

    private static void CheckPenalty(double? penalty, string field)
    {
        if (penalty is { } p && (double.IsNaN(p) || p < -MaxPenalty || p > MaxPenalty))
        {
            throw new DomainException($"The penalty is between -{MaxPenalty} and {MaxPenalty}.", DomainErrorKind.Invalid,
                field);
        }
    }

    public bool Equals(GenerationOptions? other) =>
        other is not null && Stop.SequenceEqual(other.Stop) && Seed == other.Seed
        && PresencePenalty == other.PresencePenalty && FrequencyPenalty == other.FrequencyPenalty
        && ResponseFormat == other.ResponseFormat && ModelOnly == other.ModelOnly && KeepNothing == other.KeepNothing
        && Tools == other.Tools && ToolChoice == other.ToolChoice && ParallelToolCalls == other.ParallelToolCalls;

    public override int GetHashCode() =>
        HashCode.Combine(Stop.Count, Seed, PresencePenalty, FrequencyPenalty, ResponseFormat, ModelOnly, KeepNothing,
            Tools);
}
