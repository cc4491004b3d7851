using System.Globalization;
using System.Text;

namespace MeatLizard.Infrastructure;

/// <summary>
/// JSON text from a chat network whose strings escape half a surrogate pair alone (<c>"\ud800"</c>): valid JSON, but
/// no valid Unicode, so System.Text.Json refuses to read the string (<c>GetString</c> and the serializer throw). A
/// member's message with one would be dropped unanswered; <see cref="Repair"/> writes each such escape as U+FFFD,
/// the replacement character, as a UTF-8 decoder writes a byte it cannot read, and leaves everything else as it was.
/// </summary>
public static class LoneSurrogates
{
    private const string Replacement = @"\uFFFD";

    /// <summary><paramref name="json"/> with every escaped lone surrogate replaced; the same string when it has none.</summary>
    public static string Repair(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        StringBuilder? repaired = null;
        var copied = 0;
        for (var i = 0; i < json.Length; i++)
        {
            if (json[i] != '\\')
            {
                continue;
            }

            if (!TryEscapedUnit(json, i, out var unit))
            {
                i++; // another escape (\", \\, \n, …): its second character is not the start of one
                continue;
            }

            if (char.IsHighSurrogate(unit) && TryEscapedUnit(json, i + 6, out var next) && char.IsLowSurrogate(next))
            {
                i += 11; // a whole pair
                continue;
            }

            if (char.IsSurrogate(unit))
            {
                repaired ??= new StringBuilder(json.Length);
                repaired.Append(json, copied, i - copied).Append(Replacement);
                copied = i + 6;
            }

            i += 5;
        }

        return repaired is null ? json : repaired.Append(json, copied, json.Length - copied).ToString();
    }

    private static bool TryEscapedUnit(string json, int at, out char unit)
    {
        unit = default;
        if (at + 6 > json.Length || json[at] != '\\' || json[at + 1] != 'u'
            || !ushort.TryParse(json.AsSpan(at + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        unit = (char)value;
        return true;
    }
}
