using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>A settings table in memory that counts its reads, and can be made to fail them (the database away).</summary>
internal sealed class CountingSettingsStore : ISettingsStore
{
    private int _reads;

    public ConcurrentDictionary<string, string> Values { get; } = new();

    public int Reads => Volatile.Read(ref _reads);

    /// <summary>Each read fails (after <see cref="Gate"/>, if set) while this is true.</summary>
    public bool Failing { get; set; }

    /// <summary>When set, each read waits for it first (a database that answers late, or not at all).</summary>
    public Task? Gate { get; set; }

    public Func<Task>? AfterRead { get; set; }

    public static SettingEntry Entry(string key, string value) => new(key, value, DateTimeOffset.UtcNow, "test");

    public async Task<IReadOnlyList<SettingEntry>> ListAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        if (Gate is { } gate)
        {
            await gate.WaitAsync(cancellationToken);
        }

        if (Failing)
        {
            throw new InvalidOperationException("the settings table cannot be read (test)");
        }

        var entries = Values.Select(v => Entry(v.Key, v.Value)).ToList();
        if (AfterRead is { } after)
        {
            await after();
        }

        return entries;
    }

    public Task SetAsync(SettingEntry entry, CancellationToken cancellationToken)
    {
        Values[entry.Key] = entry.Value;
        return Task.CompletedTask;
    }

    public Task<bool> RemoveAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult(Values.TryRemove(key, out _));
}
