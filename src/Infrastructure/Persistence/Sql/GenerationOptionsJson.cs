using System.Text.Json;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// <see cref="GenerationOptions"/> as the <c>relay_requests.generation</c> column holds them: NULL for
/// <see cref="GenerationOptions.None"/> (every plain send), else a small JSON object.
/// </summary>
internal static class GenerationOptionsJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault,
    };

    public static string? Write(GenerationOptions options) =>
        options.IsNone
            ? null
            : JsonSerializer.Serialize(new Stored(options.Stop.Count == 0 ? null : [.. options.Stop], options.Seed,
                options.PresencePenalty, options.FrequencyPenalty, options.ResponseFormat, options.ModelOnly,
                options.KeepNothing, options.Tools, options.ToolChoice, options.ParallelToolCalls), Options);

    // The same few texts come back again and again (one per kind of client: an OpenAI SDK's defaults, say), and the
    // options are immutable: each text is parsed once. Bounded; when full, texts not seen yet are parsed every time.
    private const int MaxRemembered = 256;

    /// <summary>Longer texts (tools' schemas, mostly) are parsed every time rather than kept.</summary>
    private const int MaxRememberedLength = 4096;
    private static readonly CountedMap<string, GenerationOptions> Parsed =
        new(StringComparer.Ordinal);

    public static GenerationOptions Read(string? json)
    {
        if (json is null)
        {
            return GenerationOptions.None;
        }

        if (Parsed.TryGetValue(json, out var known))
        {
            return known;
        }

        var options = Parse(json);
        if (Parsed.Count < MaxRemembered && json.Length <= MaxRememberedLength)
        {
            Parsed.TryAdd(json, options);
        }

        return options;
    }

    private static GenerationOptions Parse(string json)
    {
        var stored = JsonSerializer.Deserialize<Stored>(json, Options)
                     ?? throw new JsonException("A relay request's generation options are empty.");
        return GenerationOptions.Create(stored.Stop, stored.Seed, stored.PresencePenalty, stored.FrequencyPenalty,
            stored.ResponseFormat, stored.ModelOnly, stored.KeepNothing, stored.Tools, stored.ToolChoice,
            stored.ParallelToolCalls);
    }

    private sealed record Stored(
        string[]? Stop, long? Seed, double? PresencePenalty, double? FrequencyPenalty, string? ResponseFormat,
        bool ModelOnly, bool KeepNothing, string? Tools = null, string? ToolChoice = null, bool? ParallelToolCalls = null);
}
