namespace MeatLizard.Application.Relay;

/// <summary>
/// Serialises changes to one relay request within this process (an ack, a final, a timeout and a cancel may race).
/// Striped locks: a fixed set, so nothing grows with the number of requests.
/// </summary>
public sealed class RelayRequestGate
{
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async Task<IDisposable> EnterAsync(Guid requestId, CancellationToken cancellationToken)
    {
        var stripe = _stripes[(requestId.GetHashCode() & int.MaxValue) % _stripes.Length];
        await stripe.WaitAsync(cancellationToken);
        return new Releaser(stripe);
    }

    private sealed class Releaser(SemaphoreSlim stripe) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                stripe.Release();
            }
        }
    }
}
