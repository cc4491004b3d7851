namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// The messages of one relay channel seen already, by id. Discord does not deliver a channel's messages in the order
/// of their ids: ids are only k-sorted (within about a second), and two messages posted at once by two bots can reach a
/// bot either way round. So "at or before the newest seen" is no test of "seen" — it dropped a server bot's cancel
/// that arrived after the client bot's own next piece of the answer. The last <see cref="Remembered"/> ids are
/// remembered one by one; every message at or below the <see cref="Floor"/> (the newest one forgotten, or the place an
/// earlier run stored) counts as seen. Not thread-safe: the inbox locks it.
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

    private readonly SortedSet<ulong> _ids = [];

    /// <summary>Every message at or below it counts as seen.</summary>
    public ulong Floor { get; private set; } = floor;

    /// <summary>Where a catch-up reads from: the <see cref="ReorderWindow"/> before the newest seen, never below the floor.</summary>
    public ulong CatchUpFrom
    {
        get
        {
            if (_ids.Count == 0)
            {
                return Floor;
            }

            var window = (ulong)ReorderWindow.TotalMilliseconds << 22;
            return _ids.Max > window ? Math.Max(Floor, _ids.Max - window) : Floor;
        }
    }

    /// <summary>Notes <paramref name="id"/> as seen; false when it was seen before (or is at or below the floor).</summary>
    public bool Note(ulong id)
    {
        if (id <= Floor || !_ids.Add(id))
        {
            return false;
        }

        if (_ids.Count > Remembered)
        {
            Floor = _ids.Min;
            _ids.Remove(Floor);
        }

        return true;
    }

    /// <summary>Counts everything at or below <paramref name="floor"/> as seen (a place an earlier run stored).</summary>
    public void RaiseFloor(ulong floor)
    {
        if (floor <= Floor)
        {
            return;
        }

        Floor = floor;
        _ids.RemoveWhere(id => id <= floor);
    }
}
