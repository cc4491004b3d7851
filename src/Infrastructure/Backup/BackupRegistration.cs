using MeatLizard.Application.Backups;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Backup;

public static class BackupRegistration
{
    /// <summary>
    /// Backups of the configured database into the registered object store (<see cref="IDatabaseBackups"/>), and the
    /// scheduler when Backup:Schedule is set and <paramref name="runSchedule"/> (one process of a deployment should run
    /// it). Settings are checked here: a bad one stops start-up with a <see cref="ConfigurationException"/> naming it.
    /// </summary>
    public static IServiceCollection AddDatabaseBackups(
        this IServiceCollection services, IConfiguration configuration, InfrastructureSettings settings, bool runSchedule)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(settings);
        var options = new BackupOptions();
        var section = configuration.GetSection(BackupOptions.Section);
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            throw new ConfigurationException(ex.Message);
        }

        if (options.KeepDaily < 1)
        {
            throw new ConfigurationException("Backup:KeepDaily must be at least 1.");
        }

        if (options.KeepWeekly < 0)
        {
            throw new ConfigurationException("Backup:KeepWeekly must not be negative.");
        }

        CronSchedule? schedule = null;
        if (!string.IsNullOrWhiteSpace(options.Schedule))
        {
            try
            {
                schedule = CronSchedule.Parse(options.Schedule);
            }
            catch (FormatException ex)
            {
                throw new ConfigurationException($"Backup:Schedule: {ex.Message}");
            }
        }

        var sealing = new BackupSealing(string.IsNullOrWhiteSpace(options.KeyFile)
            ? null
            : BackupKey.Load(Path.GetFullPath(options.KeyFile, Directory.GetCurrentDirectory())));

        services.AddOptions<BackupOptions>().Bind(section);
        services.AddSingleton(sealing);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IDatabaseDump>(settings.StorageProvider == StorageProvider.Postgres
            ? new PostgresDump(settings.PostgresConnectionString!, options.PgBinDir)
            : new SqliteDump(settings.SqliteConnectionString));
        services.AddSingleton<IDatabaseBackups, DatabaseBackups>();
        if (schedule is not null && runSchedule)
        {
            services.AddSingleton(schedule);
            services.TryAddSingleton<MeatLizard.Application.Common.DutyRunner>();
            services.AddHostedService<BackupScheduler>();
        }

        return services;
    }
}

/// <summary>The key backups are sealed with; null when <c>Backup:KeyFile</c> is not set.</summary>
internal sealed record BackupSealing(BackupKey? Key);
