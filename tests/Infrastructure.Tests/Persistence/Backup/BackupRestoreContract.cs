using MeatLizard.Application;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Backups;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Backup;

/// <summary>
/// Backup → drop the database → restore into a fresh one → the same rows, through the host's own composition and the
/// same verbs as <c>dotnet run --project src/Presentation.Api -- backup | restore KEY</c>.
/// </summary>
public abstract class BackupRestoreContract
{
    private string _objects = null!;

    /// <summary>A fresh, migrated database of the provider under test.</summary>
    protected abstract Task<ITestDatabase> CreateDatabaseAsync();

    /// <summary>The settings that point a host at <paramref name="db"/>.</summary>
    protected abstract IDictionary<string, string?> StorageSettings(ITestDatabase db);

    /// <summary>Drops the database and leaves an empty one (no tables) in its place.</summary>
    protected abstract Task DropAndRecreateAsync(ITestDatabase db);

    [SetUp]
    public void SetUp() =>
        _objects = Path.Combine(Path.GetTempPath(), "meatlizard-tests", "objects-" + Guid.NewGuid().ToString("N"));

    [TearDown]
    public void TearDown()
    {
        foreach (var directory in new[] { _objects, KeyFolder })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private string KeyFolder => _objects + "-keys";

    [Test]
    public async Task BackupThenDropThenRestore_BringsBackTheSameRows()
    {
        await using var db = await CreateDatabaseAsync();
        var (owner, chat) = await SeedAsync(db);
        var before = await SnapshotAsync(db.StartHost(), owner.Username.Value, chat.Id);

        string key;
        using (var host = BuildHost(db))
        {
            var output = new StringWriter();
            Assert.That(await BackupCommandLine.RunAsync(["backup"], host.Services, output, TestContext.Error), Is.Zero);
            key = output.ToString().Split(' ')[0];
        }

        await DropAndRecreateAsync(db);
        using (var host = BuildHost(db))
        {
            var output = new StringWriter();
            Assert.That(await BackupCommandLine.RunAsync(["restore", key], host.Services, output, TestContext.Error),
                Is.Zero);
            Assert.That(output.ToString(), Does.Contain(key));
        }

        var after = await SnapshotAsync(db.StartHost(), owner.Username.Value, chat.Id);
        Assert.That(after, Is.EqualTo(before));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(4));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.EqualTo(1));

        // The restored database is at the latest schema: a host starting on it applies nothing and can write.
        var restarted = db.StartHost();
        await restarted.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await using var scope = restarted.CreateAsyncScope();
        await AddMessageAsync(scope.ServiceProvider, chat, MessageSource.User, "after the restore", At(9));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(5));
    }

    [Test]
    public async Task Backup_StoresAChecksumBesideIt_AndRestoreRefusesAnAlteredBackup()
    {
        await using var db = await CreateDatabaseAsync();
        await SeedAsync(db);
        using var host = BuildHost(db);
        var backups = host.Services.GetRequiredService<IDatabaseBackups>();

        var backup = await backups.CreateAsync(CancellationToken.None);
        var file = Path.Combine(_objects, backup.Key);
        var sidecar = await File.ReadAllTextAsync(file + ".sha256");
        Assert.That(sidecar, Is.EqualTo($"{backup.Sha256}  {Path.GetFileName(backup.Key)}\n"), "sha256sum's format");
        Assert.That(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(file))),
            Is.EqualTo(backup.Sha256));

        await using (var stream = File.OpenWrite(file))
        {
            stream.Seek(-1, SeekOrigin.End);
            stream.WriteByte(0x5a);
        }

        var ex = Assert.ThrowsAsync<InvalidDataException>(() => backups.RestoreAsync(backup.Key, CancellationToken.None));
        Assert.That(ex!.Message, Does.Contain("checksum"));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(4), "nothing was touched");
    }

    [Test]
    public async Task WithABackupKey_TheStoredBackupIsCiphertext_AndOnlyThatKeyRestoresIt()
    {
        await using var db = await CreateDatabaseAsync();
        var (owner, chat) = await SeedAsync(db);
        var before = await SnapshotAsync(db.StartHost(), owner.Username.Value, chat.Id);
        var rightKey = NewKeyFile("right.key");
        var wrongKey = NewKeyFile("wrong.key");

        string key;
        using (var host = BuildHost(db, extra: KeySetting(rightKey)))
        {
            var output = new StringWriter();
            Assert.That(await BackupCommandLine.RunAsync(["backup"], host.Services, output, TestContext.Error), Is.Zero);
            key = output.ToString().Split(' ')[0];
        }

        Assert.That(key, Does.EndWith(".enc"), "an operator listing the bucket sees which backups are sealed");
        var stored = await File.ReadAllBytesAsync(Path.Combine(_objects, key));
        Assert.That(System.Text.Encoding.ASCII.GetString(stored, 0, 8), Is.EqualTo("MLBACKUP"));
        foreach (var secret in new[] { "restored-owner", "first question", "first answer ✓", "Kept chat" })
        {
            Assert.That(IndexOf(stored, System.Text.Encoding.UTF8.GetBytes(secret)), Is.EqualTo(-1),
                $"'{secret}' is not readable in the stored backup");
        }

        await DropAndRecreateAsync(db);
        var withoutKey = await RestoreAsync(db, key, settings: null);
        Assert.That(withoutKey, Is.EqualTo(
            $"restore failed: The backup '{key}' is encrypted: set Backup:KeyFile to the key file it was made with; it is not restored."));
        var withWrongKey = await RestoreAsync(db, key, KeySetting(wrongKey));
        Assert.That(withWrongKey, Does.StartWith("restore failed: Backup:KeyFile is not the key the backup"));
        Assert.That(withWrongKey.Split('\n'), Has.Length.EqualTo(1), "one line");
        Assert.That(await db.ScalarAsync<long>(TablesQuery), Is.Zero, "nothing was restored");

        Assert.That(await RestoreAsync(db, key, KeySetting(rightKey)), Is.Empty);
        var after = await SnapshotAsync(db.StartHost(), owner.Username.Value, chat.Id);
        Assert.That(after, Is.EqualTo(before));
    }

    [Test]
    public async Task AnEncryptedBackupAlteredWithItsChecksum_IsRefused_AndNothingIsTouched()
    {
        await using var db = await CreateDatabaseAsync();
        await SeedAsync(db);
        var keyFile = NewKeyFile("backup.key");
        using var host = BuildHost(db, extra: KeySetting(keyFile));
        var backups = host.Services.GetRequiredService<IDatabaseBackups>();
        var backup = await backups.CreateAsync(CancellationToken.None);
        var file = Path.Combine(_objects, backup.Key);

        // Change one byte of the ciphertext and give the sidecar the new checksum, as someone who can write the bucket could.
        var altered = await File.ReadAllBytesAsync(file);
        altered[altered.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(file, altered);
        await File.WriteAllTextAsync(file + ".sha256",
            $"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(altered))}  {Path.GetFileName(backup.Key)}\n");

        var ex = Assert.ThrowsAsync<InvalidDataException>(() => backups.RestoreAsync(backup.Key, CancellationToken.None));
        Assert.That(ex!.Message, Does.Contain("damaged or cut short"));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(4), "nothing was touched");
    }

    [Test]
    public void ABackupKeyFileThatIsMissingOrShort_StopsStartUpWithOneLineNamingTheSetting()
    {
        var missing = Path.Combine(KeyFolder, "missing.key");
        var ex = Assert.Throws<ConfigurationException>(() => BackupKey.Load(missing));
        Assert.That(ex!.Message, Does.StartWith($"Backup:KeyFile '{missing}' does not exist"));

        Directory.CreateDirectory(KeyFolder);
        var shortFile = Path.Combine(KeyFolder, "short.key");
        File.WriteAllBytes(shortFile, new byte[16]);
        ex = Assert.Throws<ConfigurationException>(() => BackupKey.Load(shortFile));
        Assert.That(ex!.Message, Does.StartWith($"Backup:KeyFile '{shortFile}' must hold exactly 32 random bytes"));
    }

    [Test]
    public async Task Restore_OfAnUnknownBackup_FailsWithOneLine()
    {
        await using var db = await CreateDatabaseAsync();
        using var host = BuildHost(db);
        var error = new StringWriter();

        var code = await BackupCommandLine.RunAsync(["restore", "backups/none.dump"], host.Services, new StringWriter(), error);

        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.ToString().Trim(), Is.EqualTo("restore failed: There is no backup 'backups/none.dump' in the object store."));
    }

    [Test]
    public async Task Backups_AreListedNewestFirst_AndPrunedByRetention()
    {
        await using var db = await CreateDatabaseAsync();
        var clock = new SteppingClock(new DateTimeOffset(2025, 3, 1, 3, 0, 0, TimeSpan.Zero));
        using var host = BuildHost(db, clock, new Dictionary<string, string?>
        {
            ["Backup:KeepDaily"] = "2",
            ["Backup:KeepWeekly"] = "1",
        });
        var backups = host.Services.GetRequiredService<IDatabaseBackups>();

        for (var day = 0; day < 5; day++)
        {
            await backups.CreateAsync(CancellationToken.None);
            clock.Advance(TimeSpan.FromDays(1));
        }

        var left = await backups.ListAsync(CancellationToken.None);
        Assert.That(left.Select(b => b.CreatedAt.Day), Is.EqualTo(new[] { 5, 4 }),
            "the two newest days; the newest of this week is among them");
        Assert.That(Directory.GetFiles(_objects, "*", SearchOption.AllDirectories), Has.Length.EqualTo(4),
            "each kept backup and its checksum, nothing else");
    }

    /// <summary>Runs the restore verb; returns what it wrote on its error output (empty when it succeeded).</summary>
    private async Task<string> RestoreAsync(ITestDatabase db, string key, IDictionary<string, string?>? settings)
    {
        using var host = BuildHost(db, extra: settings);
        var error = new StringWriter();
        var code = await BackupCommandLine.RunAsync(["restore", key], host.Services, new StringWriter(), error);
        Assert.That(code, Is.EqualTo(error.ToString().Length == 0 ? 0 : 1));
        return error.ToString().Trim();
    }

    /// <summary>Counts the tables of the database under test (zero right after a drop).</summary>
    protected abstract string TablesQuery { get; }

    private string NewKeyFile(string name)
    {
        Directory.CreateDirectory(KeyFolder);
        var path = Path.Combine(KeyFolder, name);
        File.WriteAllBytes(path, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        return path;
    }

    private static Dictionary<string, string?> KeySetting(string keyFile) => new() { ["Backup:KeyFile"] = keyFile };

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    private IHost BuildHost(ITestDatabase db, TimeProvider? clock = null, IDictionary<string, string?>? extra = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(StorageSettings(db));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ObjectStore:Root"] = _objects,
            ["Data:Root"] = Path.Combine(_objects, "data"),
        });
        builder.Configuration.AddInMemoryCollection(extra ?? new Dictionary<string, string?>());
        if (clock is not null)
        {
            builder.Services.AddSingleton(clock);
        }

        builder.AddApplicationServices();
        var settings = builder.AddInfrastructureSettings();
        builder.Services.AddLocalAdapters(builder.Configuration, settings)
            .AddStores(builder.Configuration, settings)
            .AddDatabaseBackups(builder.Configuration, settings, runSchedule: false);
        return builder.Build();
    }

    private static async Task<(Domain.Users.User Owner, Domain.Chats.Chat Session)> SeedAsync(ITestDatabase db)
    {
        await using var scope = db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider, "restored-owner");
        var chat = await AddSessionAsync(scope.ServiceProvider, owner, At(1), "Kept chat");
        await AddMessageAsync(scope.ServiceProvider, chat, MessageSource.User, "first question", At(2));
        await AddMessageAsync(scope.ServiceProvider, chat, MessageSource.Model, "first answer ✓", At(3));
        await AddMessageAsync(scope.ServiceProvider, chat, MessageSource.Fallback, "a fallback", At(4));
        await AddRequestAsync(scope.ServiceProvider, chat, owner, At(5));
        return (owner, chat);
    }

    private static async Task<string> SnapshotAsync(IServiceProvider services, string username, Domain.Common.ChatId chatId)
    {
        await using var scope = services.CreateAsyncScope();
        var provider = scope.ServiceProvider;
        var user = await provider.GetRequiredService<IUserRepository>().GetByUsernameAsync(username, CancellationToken.None);
        var readModel = provider.GetRequiredService<IChatReadModel>();
        var chats = await readModel.ListSessionsAsync(user!.Id, CancellationToken.None);
        var transcript = await readModel.GetTranscriptAsync(chatId, false, CancellationToken.None);
        var queued = await readModel.CountQueuedAsync(CancellationToken.None);
        return string.Join("\n", new object[] { user.Id, user.Username, user.CreatedAt, queued }
            .Concat(chats).Concat(transcript));
    }

    private sealed class SteppingClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}

[TestFixture]
public sealed class SqliteBackupRestoreTests : BackupRestoreContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();

    protected override IDictionary<string, string?> StorageSettings(ITestDatabase db) => new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Sqlite",
        ["ConnectionStrings:Sqlite"] = ((SqliteTestDatabase)db).ConnectionString,
    };

    protected override string TablesQuery => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'";

    protected override Task DropAndRecreateAsync(ITestDatabase db)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var file = ((SqliteTestDatabase)db).FilePath;
        foreach (var path in new[] { file, file + "-wal", file + "-shm" })
        {
            File.Delete(path);
        }

        return Task.CompletedTask;
    }
}

[TestFixture]
public sealed class PostgresBackupRestoreTests : BackupRestoreContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();

    protected override IDictionary<string, string?> StorageSettings(ITestDatabase db) => new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Postgres",
        ["ConnectionStrings:Postgres"] = ((PostgresTestDatabase)db).ConnectionString,
        ["Backup:PgBinDir"] = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_POSTGRES_BIN"),
    };

    protected override string TablesQuery => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'";

    protected override async Task DropAndRecreateAsync(ITestDatabase db)
    {
        var name = ((PostgresTestDatabase)db).Name;
        await PostgresTestDatabase.ExecuteOnServerAsync($"DROP DATABASE {name} WITH (FORCE)");
        await PostgresTestDatabase.ExecuteOnServerAsync($"CREATE DATABASE {name}");
        Npgsql.NpgsqlConnection.ClearAllPools();
    }
}
