using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using MeatLizard.Application;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Tests.ObjectStorage;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Infrastructure.Tests.Redis;
using MeatLizard.Presentation.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Doctor;

/// <summary>
/// The API's <c>doctor</c> verb, composed as the host composes it, against the real PostgreSQL, Redis and S3 server
/// ./test.sh starts: every line ok when they answer; a wrong port, password, bucket or a database migrated by a newer
/// build each fail on their own line naming the setting, the others still checked; no secret in the output.
/// </summary>
[TestFixture]
public sealed class ApiDoctorTests
{
    private readonly string _key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private PostgresTestDatabase _database = null!;
    private DirectoryInfo _directory = null!;

    [SetUp]
    public async Task SetUp()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        _directory = Directory.CreateTempSubdirectory("ml-doctor-");

        // A bucket of its own, empty: the shared test bucket fills up as other test runs write to it at the same time,
        // and s3rver answers a ListObjectsV2 it has to truncate (the check lists one key) with an InternalError, which
        // real S3 never does.
        var s3 = S3ObjectStoreTests.TestServerOptions();
        _bucket = "doctor-" + Guid.NewGuid().ToString("N")[..12];
        using var client = new Amazon.S3.AmazonS3Client(
            new Amazon.Runtime.BasicAWSCredentials(s3.AccessKey, s3.SecretKey), MeatLizard.Infrastructure.ObjectStorage.S3ObjectStore.CreateConfig(s3));
        await client.PutBucketAsync(_bucket);
    }

    private string _bucket = null!;

    [TearDown]
    public async Task TearDown()
    {
        await _database.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    [Test]
    public async Task EveryServiceUp_EveryLineOk_ExitZero()
    {
        var (exitCode, lines) = await DoctorAsync();
        var postgres = new NpgsqlConnectionStringBuilder(_database.ConnectionString);

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
            Assert.That(lines, Has.Length.EqualTo(4));
            Assert.That(lines[0], Does.Match(
                $"^ok   database: PostgreSQL \\d+\\.\\d+.* at {postgres.Host}:{postgres.Port}/{_database.Name}, migrations current$"));
            Assert.That(lines[1], Does.Match(
                $"^ok   redis: Redis \\d+\\.\\d+\\.\\d+ at {RedisEndpoint().Replace(".", "\\.", StringComparison.Ordinal)}, PING \\d+\\.\\d ms$"));
            Assert.That(lines[2], Is.EqualTo(
                $"ok   s3: bucket '{_bucket}' at {S3ObjectStoreTests.TestServerOptions().ServiceUrl} reachable"));
            Assert.That(lines[3], Does.StartWith($"ok   relay keys: key 1 (active) fingerprint {ExpectedFingerprint(_key)} "));
            var output = string.Join("\n", lines);
            Assert.That(output, Does.Not.Contain(_key).And.Not.Contain(postgres.Password!)
                .And.Not.Contain(S3ObjectStoreTests.TestServerOptions().SecretKey));
        });
    }

    [Test]
    public async Task DatabaseNotMigratedYet_IsOk_SayingWhatIsPending()
    {
        await using var fresh = await PostgresTestDatabase.CreateAsync(initialize: false);

        var (exitCode, lines) = await DoctorAsync(new() { ["ConnectionStrings:Postgres"] = fresh.ConnectionString });

        Assert.That(exitCode, Is.Zero, string.Join("\n", lines));
        Assert.That(lines[0], Does.Match("^ok   database: PostgreSQL .*, 0 of (\\d+) migrations applied, \\1 pending \\(the host applies them at start\\)$"));
    }

    [Test]
    public async Task DatabaseMigratedByANewerBuild_Fails()
    {
        await using (var connection = new NpgsqlConnection(_database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', now())", connection);
            await insert.ExecuteNonQueryAsync();
        }

        var (exitCode, lines) = await DoctorAsync();

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("FAIL database: PostgreSQL").And.Contain("does not know (9999)").And.Contain("restore a backup"));
    }

    [Test]
    public async Task RedisOnAWrongPort_FailsNamingItAndTheSetting_OthersStillChecked()
    {
        var port = ClosedPort();

        var (exitCode, lines) = await DoctorAsync(new() { ["ConnectionStrings:Redis"] = $"127.0.0.1:{port}" });

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(lines[1], Is.EqualTo(
                $"FAIL redis: connection refused at 127.0.0.1:{port} — start Redis or fix ConnectionStrings:Redis"));
            Assert.That(lines.Where((_, i) => i != 1), Has.All.StartWith("ok   "));
        });
    }

    [Test]
    public async Task PostgresOnAWrongPort_Fails()
    {
        var port = ClosedPort();
        var wrong = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Port = port, Timeout = 5 };

        var (exitCode, lines) = await DoctorAsync(new() { ["ConnectionStrings:Postgres"] = wrong.ConnectionString });

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines[0], Does.StartWith($"FAIL database: Postgres at 127.0.0.1:{port}/{_database.Name}: ")
            .And.EndWith("— start PostgreSQL or fix ConnectionStrings:Postgres"));
    }

    [Test]
    public async Task PostgresWrongPassword_FailsWithoutShowingIt()
    {
        var wrong = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Password = "wrong-" + Guid.NewGuid() };

        var (exitCode, lines) = await DoctorAsync(new() { ["ConnectionStrings:Postgres"] = wrong.ConnectionString });

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("FAIL database: Postgres at ").And.Contain("28P01").And.Not.Contain(wrong.Password));
    }

    [Test]
    public async Task MissingBucket_FailsSayingHowToCreateIt()
    {
        var (exitCode, lines) = await DoctorAsync(new() { ["ObjectStore:S3:Bucket"] = "no-such-bucket-" + Guid.NewGuid().ToString("N")[..8] });

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines[2], Does.StartWith("FAIL s3: bucket 'no-such-bucket-").And.Contain("does not exist").And.Contain("ObjectStore:S3:CreateBucket"));
    }

    [Test]
    public async Task S3OnAWrongPort_Fails()
    {
        var port = ClosedPort();

        var (exitCode, lines) = await DoctorAsync(new() { ["ObjectStore:S3:ServiceUrl"] = $"http://127.0.0.1:{port}" });

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(lines[2], Does.StartWith($"FAIL s3: cannot reach bucket").And.Contain($"127.0.0.1:{port}").And.EndWith("ObjectStore:S3:ServiceUrl"));
    }

    private async Task<(int ExitCode, string[] Lines)> DoctorAsync(Dictionary<string, string?>? extra = null)
    {
        var s3 = S3ObjectStoreTests.TestServerOptions();
        var settings = new Dictionary<string, string?>
        {
            ["Data:Root"] = _directory.FullName,
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = _database.ConnectionString,
            ["Cache:Provider"] = "Redis",
            ["ConnectionStrings:Redis"] = RedisEndpoint(),
            ["ObjectStore:Provider"] = "S3",
            ["ObjectStore:S3:ServiceUrl"] = s3.ServiceUrl,
            ["ObjectStore:S3:Bucket"] = _bucket,
            ["ObjectStore:S3:AccessKey"] = s3.AccessKey,
            ["ObjectStore:S3:SecretKey"] = s3.SecretKey,
            ["Inference:Engine"] = "None",
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = _key,
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Production",
            ContentRootPath = _directory.FullName,
        });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.AddApplicationServices();
        var platform = builder.AddPlatform();
        builder.AddApiServices(platform);
        await using var app = builder.Build();
        var output = new StringWriter();
        var exitCode = await DoctorCommandLine.RunAsync(app.Services, output);
        return (exitCode, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static string RedisEndpoint() => RedisTestServer.RequiredEnvironment("MEATLIZARD_TEST_REDIS", "Redis");

    /// <summary>The documented fingerprint, computed here on its own: first 16 hex of SHA-256(label + key).</summary>
    private static string ExpectedFingerprint(string key) =>
        Convert.ToHexStringLower(SHA256.HashData([.. Encoding.UTF8.GetBytes("MeatLizard relay key fingerprint v1\n"), .. Convert.FromBase64String(key)]))[..16];

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
