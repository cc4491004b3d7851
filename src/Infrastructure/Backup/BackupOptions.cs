namespace MeatLizard.Infrastructure.Backup;

/// <summary>Section "Backup".</summary>
public sealed class BackupOptions
{
    public const string Section = "Backup";

    /// <summary>
    /// When to back up, as a five-field cron expression in UTC (minute hour day-of-month month day-of-week), e.g.
    /// "30 3 * * *" for 03:30 every day. Empty: no scheduled backups (on-demand ones still work).
    /// </summary>
    public string? Schedule { get; set; }

    /// <summary>How many days back the newest backup of each day is kept.</summary>
    public int KeepDaily { get; set; } = 7;

    /// <summary>How many weeks back the newest backup of each ISO week is kept (beside the daily ones).</summary>
    public int KeepWeekly { get; set; } = 4;

    /// <summary>
    /// A file of 32 random bytes (raw or base64) that seals every backup with AES-256-GCM. Keep a copy away from the
    /// server: a backup cannot be restored without it. Empty: backups are stored unencrypted, with a warning each time.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>The directory of pg_dump and pg_restore; empty: PATH, then the newest /usr/lib/postgresql/*/bin.</summary>
    public string? PgBinDir { get; set; }
}
