
namespace MeatLizard.Application.Abstractions;

/// <summary>One admin-set value of table <c>settings</c>.</summary>
public sealed record SettingEntry(string Key, string Value, DateTimeOffset UpdatedAt, string? UpdatedBy);

/// <summary>The admin-tunable settings as stored (table <c>settings</c>); what is not stored comes from configuration.</summary>
public interface ISettingsStore
{
    Task<IReadOnlyList<SettingEntry>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the value of <see cref="SettingEntry.Key"/>.</summary>
    Task SetAsync(SettingEntry entry, CancellationToken cancellationToken);

    /// <summary>False when the key was not set.</summary>
    Task<bool> RemoveAsync(string key, CancellationToken cancellationToken);
}
