using System.Text;

namespace MeatLizard.Domain.Common;

/// <summary>
/// Text as every database of the platform stores it alike: no control characters but tab, newline and carriage return
/// (PostgreSQL's <c>text</c> refuses NUL where SQLite keeps it), and well-formed UTF-16 (a lone surrogate has no UTF-8
/// form, so it would be stored as something else). What a person typed is refused when it breaks this
/// (<see cref="Check"/>); what a model or a command produced is cleaned instead (<see cref="Clean"/>).
/// </summary>
public static class StorableText
{
    /// <summary>Throws an "invalid" domain error naming <paramref name="field"/> when the text is not storable.</summary>
    public static void Check(string value, string field)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (IsRefusedControl(c))
            {
                throw new DomainException(
                    $"The {field} holds a control character (U+{(int)c:X4}) at position {i}; only tab, newline and carriage return are allowed.",
                    DomainErrorKind.Invalid, field);
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                throw new DomainException(
                    $"The {field} holds a broken character (a lone UTF-16 surrogate) at position {i}.",
                    DomainErrorKind.Invalid, field);
            }
        }
    }

    /// <summary>Whether <see cref="Check"/> takes the text: no control character it refuses, no lone surrogate.</summary>
    public static bool IsStorable(string value) => FirstToClean(value) < 0;

    /// <summary>
    /// The text with the control characters <see cref="Check"/> refuses removed (C0 but tab, newline and carriage
    /// return; DEL; C1) and lone surrogates replaced by U+FFFD, so the result always passes <see cref="Check"/>; the
    /// same instance when there is nothing to clean (the common case costs one scan).
    /// </summary>
    public static string Clean(string value)
    {
        var first = FirstToClean(value);
        if (first < 0)
        {
            return value;
        }

        var cleaned = new StringBuilder(value.Length);
        cleaned.Append(value, 0, first);
        for (var i = first; i < value.Length; i++)
        {
            var c = value[i];
            if (IsRefusedControl(c))
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                cleaned.Append(c).Append(value[++i]);
            }
            else
            {
                cleaned.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
            }
        }

        return cleaned.ToString();
    }

    private static int FirstToClean(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (IsRefusedControl(c))
            {
                return i;
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsRefusedControl(char c) => char.IsControl(c) && c is not ('\t' or '\n' or '\r');
}
