using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Chats.Queries;

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

    /// <summary>The same names, on one line: a value written inside another format (a CSV cell).</summary>
    private static readonly JsonSerializerOptions s_inline = new(s_options) { WriteIndented = false };

    public static byte[] Write(TranscriptDto transcript) => JsonSerializer.SerializeToUtf8Bytes(transcript, s_options);

    /// <summary><paramref name="images"/> as the JSON transcript writes them, on one line.</summary>
    public static string Inline(IReadOnlyList<ImageDto> images) => JsonSerializer.Serialize(images, s_inline);

    public static TranscriptDto? Read(ReadOnlySpan<byte> json) => JsonSerializer.Deserialize<TranscriptDto>(json, s_options);
}

/// <summary>
/// RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with a quote. <c>parentId</c> is the
/// message each follows in the chat's tree (empty for a first message). <c>images</c> (last, so earlier columns keep
/// their places) is a user's message's images as the JSON transcript names them — name
/// (<c>GET /api/v1/sessions/{id}/images/{name}</c>), media type, pixel size and bytes — as a JSON array, empty when none;
/// never their bytes: a data: URL would outgrow a spreadsheet's cell (Excel keeps 32,767 characters), and the JSON
/// export carries them.
/// </summary>
public static class TranscriptCsv
{
    public static string Write(TranscriptDto transcript)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        var csv = new StringBuilder("id,createdAt,role,source,content,promptTokens,completionTokens,parentId,images\r\n");
        foreach (var m in transcript.Messages)
        {
            csv.Append(m.Id).Append(',')
                .Append(m.CreatedAt.ToString("O", CultureInfo.InvariantCulture)).Append(',')
                .Append(m.Role).Append(',')
                .Append(m.Source).Append(',')
                .Append(Cell(m.Content)).Append(',')
                .Append(m.Tokens?.Prompt.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(m.Tokens?.Completion.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(m.ParentId).Append(',')
                .Append(Images(m.Images)).Append("\r\n");
        }

        return csv.ToString();
    }

    private static string Images(IReadOnlyList<ImageDto>? images) =>
        images is { Count: > 0 } ? Cell(TranscriptJson.Inline([.. images.Select(i => i with { DataUrl = null })])) : "";

    private static string Cell(string value)
    {
        var safe = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value;
        return safe.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + safe.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : safe;
    }
}
