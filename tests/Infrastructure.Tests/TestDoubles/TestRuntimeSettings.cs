using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Tests.TestDoubles;

/// <summary>Admin settings held in memory, as if read from the settings table.</summary>
internal sealed class TestRuntimeSettings : IRuntimeSettings
{
    public ConcurrentDictionary<string, string> Values { get; } = new();

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Values.TryGetValue(key, out var value) ? value : null);

    public void Invalidate()
    {
    }
}
