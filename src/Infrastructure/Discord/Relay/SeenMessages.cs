namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// The messages of one relay channel seen already, by id. Discord does not deliver a channel's messages in the order
/// of their ids: ids are only k-sorted (within about a second), and two messages posted at once by two bots can reach a
/// bot either way round. So "at or before the newest seen" is no test of "seen" — it dropped a server bot's cancel
/// that arrived after the client bot's own next piece of the answer. The last <see cref="Remembered"/> ids are
/// remembered one by one; every message at or below the <see cref="Floor"/> (the newest one forgotten, or the place an
/// earlier run stored) counts as seen. Safe to use from several threads.
/// </summary>
internal sealed class SeenMessages(ulong floor)
{
    /// <summary>How many ids are remembered above the floor: far more than a channel carries while two arrive swapped.</summary>
    public const int Remembered = 256;

    /// <summary>
    /// How far back (in a snowflake's time) a catch-up reads from the newest message seen: what the gateway delivered
    /// before a session ended may have left an older message undelivered.
    /// </summary>
    public static readonly TimeSpan ReorderWindow = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly SortedSet<ulong> _ids = [];
    private ulong _floor = floor;

    /// <summary>Every message at or below it counts as seen.</summary>
    public ulong Floor
    {
        get
        {
            lock (_lock)
            {
                return _floor;
            }
        }
    }

    /// <summary>Where a catch-up reads from: the <see cref="ReorderWindow"/> before the newest seen, never below the floor.</summary>
    public ulong CatchUpFrom
    {
        get
        {
            var window = (ulong)ReorderWindow.TotalMilliseconds << 22;
            lock (_lock)
            {
                return _ids.Count > 0 && _ids.Max > window ? Math.Max(_floor, _ids.Max - window) : _floor;
            }
        }
    }

    /// <summary>Notes <paramref name="id"/> as seen; false when it was seen before (or is at or below the floor).</summary>
    public bool Note(ulong id)
    {
        lock (_lock)
        {
            if (id <= _floor || !_ids.Add(id))
            {
                return false;
            }

            if (_ids.Count > Remembered)
            {
                _floor = _ids.Min;
                _ids.Remove(_floor);
            }

            return true;
        }
    }

    /// <summary>Counts everything at or below <paramref name="floor"/> as seen (a place an earlier run stored).</summary>
    public void RaiseFloor(ulong floor)
    {
        lock (_lock)
        {
            if (floor > _floor)
            {
                _floor = floor;
                _ids.RemoveWhere(id => id <= floor);
            }
        }
    }
}
