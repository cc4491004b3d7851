using System.Globalization;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Inference;

/// <summary>
/// The attempts this model host began answering, one line each (<c>request attempt unix-seconds</c>) in a file under its
/// data folder, next to its id. Read once, at the first question: what earlier runs began within
/// <see cref="Kept"/> (longer than any dispatch is read late and still run). A line is written to the operating system
/// as the attempt begins, so it survives the process being killed (not the machine losing power: a run after that
/// answers again from the beginning, as before). The file is rewritten at each start, and when it has grown to several
/// times what is kept, with only the lines still kept.
/// </summary>
public sealed class FileBegunJobs(string path, IClock clock) : IBegunJobs, IDisposable
{
    public const string FileName = "begun-jobs";

    /// <summary>How long a begun attempt is remembered.</summary>
    public static readonly TimeSpan Kept = TimeSpan.FromMinutes(10);

    private readonly Lock _lock = new();
    private HashSet<(Guid, int)>? _earlier;
    private readonly Dictionary<(Guid, int), DateTimeOffset> _mine = [];
    private readonly Queue<((Guid, int) Key, DateTimeOffset At)> _order = new();
    private readonly List<Begun> _earlierKept = [];
    private StreamWriter? _file;
    private int _written;

    public bool BegunByAnEarlierRun(Guid requestId, int attempt)
    {
        lock (_lock)
        {
            Open();
            return _earlier!.Contains((requestId, attempt)) && !_mine.ContainsKey((requestId, attempt));
        }
    }

    public void Begin(Guid requestId, int attempt)
    {
        lock (_lock)
        {
            Open();
            var now = clock.UtcNow;
            if (!_mine.TryAdd((requestId, attempt), now))
            {
                return;
            }

            _order.Enqueue(((requestId, attempt), now));
            Forget(now);
            Write(() =>
            {
                if (_file is null)
                {
                    return;
                }

                _file.WriteLine(Line(requestId, attempt, now));
                _file.Flush();
                if (++_written > 1_000 + (4 * _mine.Count))
                {
                    Rewrite();
                }
            });
        }
    }

    /// <summary>
    /// Does <paramref name="write"/>; a file that cannot be written (a full disk, a folder made read-only) is given up
    /// for this run rather than failing the answers: a later run then answers them again, as without this memory.
    /// </summary>
    private void Write(Action write)
    {
        try
        {
            write();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    /// <summary>Reads what earlier runs began (once), and starts the file again with only that.</summary>
    private void Open()
    {
        if (_earlier is not null)
        {
            return;
        }

        _earlier = [];
        var since = clock.UtcNow - Kept;
        Write(() =>
        {
            if (File.Exists(path))
            {
                foreach (var line in File.ReadLines(path))
                {
                    if (Parse(line) is { } begun && begun.At > since && _earlier.Add((begun.RequestId, begun.Attempt)))
                    {
                        _earlierKept.Add(begun);
                    }
                }
            }

            Rewrite();
        });
    }

    /// <summary>Forgets this run's attempts begun longer ago than <see cref="Kept"/>.</summary>
    private void Forget(DateTimeOffset now)
    {
        while (_order.TryPeek(out var oldest) && now - oldest.At > Kept)
        {
            _order.Dequeue();
            _mine.Remove(oldest.Key);
        }
    }

    /// <summary>Writes the file anew with the lines still kept, then appends to it.</summary>
    private void Rewrite()
    {
        _file?.Dispose();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var since = clock.UtcNow - Kept;
        _earlierKept.RemoveAll(begun => begun.At <= since);
        var temporary = path + ".tmp";
        File.WriteAllLines(temporary, _earlierKept.Select(b => Line(b.RequestId, b.Attempt, b.At))
            .Concat(_order.Select(o => Line(o.Key.Item1, o.Key.Item2, o.At))));
        File.Move(temporary, path, overwrite: true);
        _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite));
        _written = 0;
    }

    private static string Line(Guid requestId, int attempt, DateTimeOffset at) =>
        string.Create(CultureInfo.InvariantCulture, $"{requestId:N} {attempt} {at.ToUnixTimeSeconds()}");

    private readonly record struct Begun(Guid RequestId, int Attempt, DateTimeOffset At);

    private static Begun? Parse(string line)
    {
        var parts = line.Split(' ');
        return parts.Length == 3 && Guid.TryParseExact(parts[0], "N", out var id)
               && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt)
               && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
               && seconds is >= 0 and < 253_402_300_800
            ? new Begun(id, attempt, DateTimeOffset.FromUnixTimeSeconds(seconds))
            : null;
    }
}
