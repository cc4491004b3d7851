using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace MeatLizard.Application.Common;

/// <summary>
/// Every name and string of a JSON document checked as Unicode text before any of it is read. A parsed document keeps
/// a string's bytes as they came until the string is read, so a body with invalid UTF-8, or with half of a surrogate
/// pair escaped alone (<c>"\ud800"</c>), failed only where a field happened to be read — a 500 — and passed fields
/// copied unread (a tool's description, a schema) on to the model host altered.
/// </summary>
public static class WellFormedJson
{
    /// <summary>What is wrong with such text, for the caller.</summary>
    public const string NotUnicode =
        "text that is not valid Unicode: invalid UTF-8, or half of a surrogate pair escaped alone (such as \\ud800)";

    /// <summary>
    /// False when a name or string of <paramref name="root"/> is not well-formed; <paramref name="field"/> then names
    /// the first, as the errors name fields (<c>messages[0].content</c>): a string's own field, or for a name the object
    /// that holds it (null at the top).
    /// </summary>
    public static bool IsWellFormed(JsonElement root, out string? field)
    {
        var json = JsonMarshal.GetRawUtf8Value(root);
        field = null;
        if (FirstMalformed(json) is not { } at)
        {
            return true;
        }

        field = FieldAt(json, at);
        return false;
    }

    /// <summary>Where the first name or string that is not well-formed begins; null when there is none.</summary>
    private static long? FirstMalformed(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        byte[]? unescaped = null;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.PropertyName or JsonTokenType.String
                    && !IsWellFormed(ref reader, ref unescaped))
                {
                    return reader.TokenStartIndex;
                }
            }

            return null;
        }
        finally
        {
            if (unescaped is not null)
            {
                ArrayPool<byte>.Shared.Return(unescaped);
            }
        }
    }

    private static bool IsWellFormed(ref Utf8JsonReader reader, ref byte[]? unescaped)
    {
        var raw = reader.ValueSpan; // one segment: the reader reads a span
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(raw);
        }

        // Unescaped, a string is never longer than as written; unescaping refuses a surrogate escaped alone.
        if (unescaped is null || unescaped.Length < raw.Length)
        {
            if (unescaped is not null)
            {
                ArrayPool<byte>.Shared.Return(unescaped);
            }

            unescaped = ArrayPool<byte>.Shared.Rent(raw.Length);
        }

        try
        {
            return Utf8.IsValid(unescaped.AsSpan(0, reader.CopyString(unescaped)));
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The field of the token at <paramref name="offset"/> (see <see cref="IsWellFormed"/>).</summary>
    private static string? FieldAt(ReadOnlySpan<byte> json, long offset)
    {
        var reader = new Utf8JsonReader(json);
        var open = new List<Container>();
        while (reader.Read())
        {
            var inside = open.Count > 0 ? open[^1] : null;
            if (inside is { IsArray: true } && reader.TokenType is not (JsonTokenType.EndArray or JsonTokenType.EndObject))
            {
                inside.Index++;
            }

            if (reader.TokenStartIndex == offset)
            {
                return Path(open, reader.TokenType == JsonTokenType.PropertyName ? open.Count - 1 : open.Count);
            }

            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    inside!.Name = reader.GetString(); // well-formed: every name before the offset is
                    break;
                case JsonTokenType.StartObject:
                    open.Add(new Container(isArray: false));
                    break;
                case JsonTokenType.StartArray:
                    open.Add(new Container(isArray: true));
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    open.RemoveAt(open.Count - 1);
                    break;
            }
        }

        return null;
    }

    private static string? Path(List<Container> open, int depth)
    {
        var path = new StringBuilder();
        foreach (var container in open.Take(depth))
        {
            if (container.IsArray)
            {
                path.Append('[').Append(container.Index).Append(']');
            }
            else
            {
                path.Append(path.Length > 0 ? "." : "").Append(container.Name);
            }
        }

        return path.Length > 0 ? path.ToString() : null;
    }

    /// <summary>An object (its current name) or an array (its current index) the reader is inside.</summary>
    private sealed class Container(bool isArray)
    {
        public bool IsArray { get; } = isArray;

        /// <summary>An object's current name.</summary>
        public string? Name { get; set; }

        /// <summary>An array's current index (-1 before its first element).</summary>
        public int Index { get; set; } = -1;
    }
}
