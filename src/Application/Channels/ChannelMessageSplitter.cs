namespace MeatLizard.Application.Channels;

/// <summary>
/// Splits an answer longer than a network allows into messages that each fit, cutting where a reader expects a
/// break: after a code block or paragraph, else at a line, else at a space, and only as a last resort mid-word. A
/// code block (```) is never left cut open: the part ends by closing it and the next part reopens it with the same
/// language, so each message renders on its own.
/// </summary>
public static class ChannelMessageSplitter
{
    private const string Fence = "```";

    private const string Close = "\n" + Fence;

    private const int MaxFenceLine = 24;

    /// <summary>Too small a limit cannot hold a reopened fence and some text; no network has one.</summary>
    public const int MinLength = 64;

    public static IReadOnlyList<string> Split(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, MinLength);
        var parts = new List<string>();
        var body = text;
        while (body.Length > maxLength)
        {
            var lines = Scan(body);
            var cut = FindCut(body, lines, maxLength);
            // A fence line too long to repeat (not a language tag) is reopened bare.
            var opener = OpenFenceAt(lines, cut) is { } fence ? fence.Length <= MaxFenceLine ? fence : Fence : null;
            var part = body[..cut].TrimEnd();
            var rest = body[cut..].TrimStart('\n');
            if (opener is null)
            {
                parts.Add(part);
                body = rest;
            }
            else
            {
                parts.Add(part + Close);
                body = opener + "\n" + rest;
            }
        }

        if (body.Trim().Length > 0 || parts.Count == 0)
        {
            parts.Add(body);
        }

        return parts;
    }

    /// <summary>Each line's start and the code fence open there (its opening line), or null outside code.</summary>
    private static List<(int Start, string? OpenFence)> Scan(string body)
    {
        var lines = new List<(int, string?)>();
        string? open = null;
        var start = 0;
        while (start <= body.Length)
        {
            lines.Add((start, open));
            var end = body.IndexOf('\n', start);
            var line = body[start..(end < 0 ? body.Length : end)].Trim();
            if (line.StartsWith(Fence, StringComparison.Ordinal))
            {
                open = open is null ? line : null;
            }

            if (end < 0)
            {
                break;
            }

            start = end + 1;
        }

        return lines;
    }

    /// <summary>The code fence open at <paramref name="position"/> (a line start or inside a line), or null.</summary>
    private static string? OpenFenceAt(List<(int Start, string? OpenFence)> lines, int position)
    {
        string? open = null;
        foreach (var (start, fence) in lines)
        {
            if (start > position)
            {
                break;
            }

            open = fence;
        }

        // Inside the opening line itself the block has not begun; inside the closing line it has not ended.
        return open;
    }

    private static int FindCut(string body, List<(int Start, string? OpenFence)> lines, int maxLength)
    {
        // A cut inside a code block costs the closing fence; the shortest sensible part is a third of the limit.
        var least = maxLength / 3;
        bool Fits(int cut) => cut > 0 && cut + (OpenFenceAt(lines, cut) is null ? 0 : Close.Length) <= maxLength;

        // 1. A line start outside code after a blank line or a closed code block; 2. a paragraph anywhere; 3. a line.
        int? outsideCode = null, paragraph = null, line = null;
        for (var i = lines.Count - 1; i > 0; i--)
        {
            var (start, fence) = lines[i];
            if (start < least || start > maxLength)
            {
                continue;
            }

            var blankBefore = start >= 2 && body[start - 2] == '\n';
            var closedBefore = fence is null && lines[i - 1].OpenFence is not null;
            if (outsideCode is null && fence is null && (blankBefore || closedBefore) && Fits(start))
            {
                outsideCode = start;
            }

            if (paragraph is null && blankBefore && Fits(start))
            {
                paragraph = start;
            }

            if (line is null && Fits(start))
            {
                line = start;
            }
        }

        if ((outsideCode ?? paragraph ?? line) is { } best)
        {
            return best;
        }

        // 4. After a space; 5. anywhere, never between the halves of a surrogate pair.
        for (var cut = Math.Min(maxLength, body.Length - 1); cut >= least; cut--)
        {
            if (body[cut - 1] == ' ' && Fits(cut))
            {
                return cut;
            }
        }

        var hard = maxLength - Close.Length;
        while (!Fits(hard))
        {
            hard--;
        }

        return char.IsHighSurrogate(body[hard - 1]) ? hard - 1 : hard;
    }
}
