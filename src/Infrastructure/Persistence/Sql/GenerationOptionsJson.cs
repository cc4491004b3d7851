using System.Text.Json;
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
                options.KeepNothing), Options);

    public static GenerationOptions Read(string? json)
    {
        if (json is null)
        {
            return GenerationOptions.None;
        }

        var stored = JsonSerializer.Deserialize<Stored>(json, Options)
                     ?? throw new JsonException("A relay request's generation options are empty.");
        return GenerationOptions.Create(stored.Stop, stored.Seed, stored.PresencePenalty, stored.FrequencyPenalty,
            stored.ResponseFormat, stored.ModelOnly, stored.KeepNothing);
    }

    private sealed record Stored(
        string[]? Stop, long? Seed, double? PresencePenalty, double? FrequencyPenalty, string? ResponseFormat,
        bool ModelOnly, bool KeepNothing);
}
