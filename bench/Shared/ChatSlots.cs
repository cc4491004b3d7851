namespace MeatLizard.Bench;

/// <summary>
/// The chats a run's sessions write in: each slot's chat takes <see cref="ChatLength"/> messages (its warm-up message
/// included), then the slot starts a new chat, so the prompt history stays at a typical length instead of growing all
/// run. A new chat is created between two messages, outside the measured send.
/// </summary>
internal sealed class ChatSlots
{
    public const int ChatLength = 20;

    private readonly Guid[] _chats;
    private readonly int[] _sent;
    private readonly Func<int, CancellationToken, Task<Guid>> _create;

    private ChatSlots(Guid[] chats, Func<int, CancellationToken, Task<Guid>> create)
    {
        _chats = chats;
        _sent = new int[chats.Length];
        _create = create;
    }

    public Guid this[int slot] => _chats[slot];

    /// <summary><paramref name="count"/> slots, slot i's chats made by <paramref name="create"/>(i).</summary>
    public static async Task<ChatSlots> CreateAsync(int count, Func<int, CancellationToken, Task<Guid>> create)
    {
        var chats = new Guid[count];
        for (var slot = 0; slot < count; slot++)
        {
            chats[slot] = await create(slot, CancellationToken.None);
        }

        return new ChatSlots(chats, create);
    }

    /// <summary>One message in every chat, unmeasured (JIT, connection pools, database pages); it counts as sent.</summary>
    public async Task WarmAsync(Func<int, Task<bool>> send)
    {
        await Task.WhenAll(Enumerable.Range(0, _chats.Length).Select(send));
        Array.Fill(_sent, 1);
    }

    /// <summary>After each message of the slot: a new chat once the current one has <see cref="ChatLength"/> messages.</summary>
    public async Task PrepareAsync(int slot, CancellationToken cancellationToken)
    {
        if (++_sent[slot] % ChatLength == 0)
        {
            _chats[slot] = await _create(slot, cancellationToken);
        }
    }
}
