using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// <see cref="AesGcm"/> instances for one key. An instance is not thread-safe, and making one sets up the key
/// schedule and a native context, so a few are kept and lent out one caller at a time.
/// </summary>
internal sealed class AesGcmPool(byte[] key, int tagSize) : IDisposable
{
    private static readonly int s_maxIdle = Environment.ProcessorCount * 2;

    private readonly ConcurrentQueue<AesGcm> _idle = new();
    private int _idleCount;

    public AesGcm Rent()
    {
        if (_idle.TryDequeue(out var aes))
        {
            Interlocked.Decrement(ref _idleCount);
            return aes;
        }

        return new AesGcm(key, tagSize);
    }

    public void Return(AesGcm aes)
    {
        if (Interlocked.Increment(ref _idleCount) <= s_maxIdle)
        {
            _idle.Enqueue(aes);
            return;
        }

        Interlocked.Decrement(ref _idleCount);
        aes.Dispose();
    }

    public void Dispose()
    {
        while (_idle.TryDequeue(out var aes))
        {
            aes.Dispose();
        }
    }
}
