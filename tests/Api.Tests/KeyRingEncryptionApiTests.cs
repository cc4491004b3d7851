using System.Net;
using System.Security.Cryptography;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.DataProtection;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The data-protection key ring (it signs every session cookie and access token) is encrypted at rest with the
/// operator's key file (DataProtection:KeyFile): the stored XML, on disk or in PostgreSQL, holds no key material, hosts
/// sharing the ring and the key file honour each other's sign-ins, keys stored before encryption was turned on stay
/// readable, and a missing or wrong key file stops the host with one line naming the setting.
/// </summary>
[Parallelizable(ParallelScope.Self)]
public sealed class KeyRingEncryptionApiTests
{
    private readonly List<string> _cleanUp = [];

    [TearDown]
    public void CleanUp()
    {
        foreach (var path in _cleanUp)
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                File.Delete(path);
            }
        }

        _cleanUp.Clear();
    }

    [Test]
    public async Task WithAKeyFile_TheKeyFilesHoldNoKeyMaterial_AndSignInsWork()
    {
        var dataRoot = NewDirectory();
        await using var host = await new ApiHost(Settings(dataRoot, NewKeyFile()), withEngine: false).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();

        Assert.That((await client.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var stored = Directory.GetFiles(Path.Combine(dataRoot, "keys"), "key-*.xml").Select(File.ReadAllText).ToList();
        Assert.That(stored, Is.Not.Empty);
        Assert.That(stored, Has.All.Not.Contains("<masterKey").And.All.Contains("keyFileEncrypted"));
        Assert.That(host.Logs.Entries.Select(e => e.Message), Has.None.Contains("UNENCRYPTED"));
    }

    [Test]
    public async Task WithoutAKeyFile_TheHostSaysLoudlyThatTheKeysAreUnencrypted()
    {
        await using var host = await new ApiHost(withEngine: false).StartAsync();

        Assert.That(host.Logs.Entries.Select(e => e.Message), Has.Some.Contains("UNENCRYPTED").And.Some.Contains("DataProtection:KeyFile"));
    }

    [Test]
    public async Task KeysStoredBeforeEncryption_StayReadable_OnceAKeyFileIsSet()
    {
        var dataRoot = NewDirectory();
        string token;
        await using (var plain = await new ApiHost(Settings(dataRoot, keyFile: null), withEngine: false).StartAsync())
        {
            using var client = plain.NewClient();
            await client.SignUpAsync();
            token = client.AccessToken!;
        }

        await using var encrypted = await new ApiHost(Settings(dataRoot, NewKeyFile()), withEngine: false).StartAsync();
        using var again = encrypted.NewClient();
        again.UseBearer(token);

        Assert.That((await again.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task AWrongKeyFile_StopsTheHostWithOneLineNamingTheSetting()
    {
        var dataRoot = NewDirectory();
        await using (var first = await StartKeyRingAsync(dataRoot, NewKeyFile()))
        {
            first.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Protect("makes a key");
        }

        var failure = Assert.CatchAsync(async () => await (await StartKeyRingAsync(dataRoot, NewKeyFile())).DisposeAsync());

        Assert.That(HostRunner.Describe(failure!),
            Does.StartWith("DataProtection:KeyFile is not the key the data-protection keys were encrypted with (they need key "));
    }

    [Test]
    public async Task EncryptedKeys_WithoutAKeyFile_StopTheHostWithOneLineNamingTheSetting()
    {
        var dataRoot = NewDirectory();
        await using (var first = await StartKeyRingAsync(dataRoot, NewKeyFile()))
        {
            first.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Protect("makes a key");
        }

        var failure = Assert.CatchAsync(async () => await (await StartKeyRingAsync(dataRoot, keyFile: null)).DisposeAsync());

        Assert.That(HostRunner.Describe(failure!),
            Is.EqualTo("The data-protection keys are encrypted, but DataProtection:KeyFile is not set: set it to the key file they were encrypted with."));
    }

    [TestCase(null, "does not exist")]
    [TestCase(16, "must hold exactly 32 random bytes")]
    public void AMissingOrShortKeyFile_StopsTheHostWithOneLineNamingTheSetting(int? length, string expected)
    {
        var path = Path.Combine(Path.GetTempPath(), $"meatlizard-key-{Guid.NewGuid():N}");
        if (length is { } bytes)
        {
            File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(bytes));
            _cleanUp.Add(path);
        }

        var failure = Assert.CatchAsync(async () => await (await StartKeyRingAsync(NewDirectory(), path)).DisposeAsync());

        Assert.That(HostRunner.Describe(failure!), Does.StartWith($"DataProtection:KeyFile '{path}' ").And.Contain(expected));
    }

    [Test]
    public async Task OnPostgres_TheStoredRowsHoldNoKeyMaterial_AndTwoInstancesHonourEachOthersSignIns()
    {
        var server = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_POSTGRES");
        Assert.That(server, Is.Not.Null.And.Not.Empty, "MEATLIZARD_TEST_POSTGRES is not set: run ./test.sh, which starts PostgreSQL");
        var database = "ml_keyring_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync(server!, $"CREATE DATABASE {database}");
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
            var keyFile = NewKeyFile();
            Dictionary<string, string?> OnPostgres() => new(Settings(NewDirectory(), keyFile))
            {
                ["Storage:Provider"] = "Postgres",
                ["ConnectionStrings:Postgres"] = connectionString,
            };

            await using var first = await new ApiHost(OnPostgres(), withEngine: false).StartAsync();
            await using var second = await new ApiHost(OnPostgres(), withEngine: false).StartAsync();
            using var atFirst = first.NewClient();
            await atFirst.SignUpAsync();
            using var atSecond = second.NewClient();
            atSecond.UseBearer(atFirst.AccessToken!);

            Assert.That((await atSecond.GetAsync("api/v1/auth/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT xml FROM data_protection_keys", connection);
            var rows = new List<string>();
            await using (var reader = await read.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    rows.Add(reader.GetString(0));
                }
            }

            Assert.That(rows, Is.Not.Empty);
            Assert.That(rows, Has.All.Not.Contains("<masterKey").And.All.Contains("keyFileEncrypted"));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(server!, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        }
    }

    /// <summary>
    /// The API's data-protection composition on its own, started as the host starts it (its start-up check included):
    /// what a host with these settings would do, without a web server.
    /// </summary>
    private static async Task<ServiceProvider> StartKeyRingAsync(string dataRoot, string? keyFile)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(Settings(dataRoot, keyFile)).Build();
        var settings = InfrastructureSettings.Read(configuration);
        var services = new ServiceCollection().AddLogging().AddSingleton(settings);
        services.AddMeatLizardDataProtection(configuration, settings);
        var provider = services.BuildServiceProvider();
        try
        {
            foreach (var hosted in provider.GetServices<IHostedService>())
            {
                await hosted.StartAsync(CancellationToken.None);
            }
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }

        return provider;
    }

    private static Dictionary<string, string?> Settings(string dataRoot, string? keyFile) => new()
    {
        ["Data:Root"] = dataRoot,
        ["DataProtection:KeyFile"] = keyFile,
    };

    private string NewDirectory()
    {
        var path = Directory.CreateTempSubdirectory("meatlizard-keyring-").FullName;
        _cleanUp.Add(path);
        return path;
    }

    private string NewKeyFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"meatlizard-key-{Guid.NewGuid():N}");
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(32));
        _cleanUp.Add(path);
        return path;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
