using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MeatLizard.Application.Sessions.Queries;

namespace MeatLizard.Application.Transcripts;

/// <summary>The transcript as JSON, in the same shape the API returns.</summary>
public static class TranscriptJson
{
    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    public static byte[] Write(TranscriptDto transcript) => JsonSerializer.SerializeToUtf8Bytes(transcript, s_options);

    public static TranscriptDto? Read(ReadOnlySpan<byte> json) => JsonSerializer.Deserialize<TranscriptDto>(json, s_options);
}

/// <summary>
/// RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with a quote. <c>parentId</c> is the
/// message each follows in the chat's tree (empty for a first message).
/// </summary>
public static class TranscriptCsv
{
    public static string Write(TranscriptDto transcript)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        var csv = new StringBuilder("id,createdAt,role,source,content,promptTokens,completionTokens,parentId\r\n");
        foreach (var m in transcript.Messages)
        {
            csv.Append(m.Id).Append(',')
                .Append(m.CreatedAt.ToString("O", CultureInfo.InvariantCulture)).Append(',')
                .Append(m.Role).Append(',')
                .Append(m.Source).Append(',')
                .Append(Cell(m.Content)).Append(',')
                .Append(m.Tokens?.Prompt.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(m.Tokens?.Completion.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(m.ParentId).Append("\r\n");
        }

        return csv.ToString();
    }

    private static string Cell(string value)
    {
        var safe = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value;
        return safe.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + safe.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : safe;
    }
}
