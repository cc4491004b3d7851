using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Stores an admin setting and makes this process see it at once.</summary>
public sealed class AdminSettingsWriter(ISettingsStore store, IRuntimeSettings runtime, IClock clock)
{
    public async Task SetAsync(string key, string value, AdminActor actor, CancellationToken cancellationToken)
    {
        await store.SetAsync(new SettingEntry(key, value, clock.UtcNow, actor.ToString()), cancellationToken);
        runtime.Invalidate();
    }

    /// <summary>Removes an admin setting (configuration holds again) and makes this process see it at once.</summary>
    public async Task RemoveAsync(string key, CancellationToken cancellationToken)
    {
        await store.RemoveAsync(key, cancellationToken);
        runtime.Invalidate();
    }
}
