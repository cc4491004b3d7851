using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Transcripts;
using MeatLizard.Infrastructure.ObjectStorage;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.ObjectStorage;

/// <summary>The retention sweep on both object stores: it reads a transcript's age from its key, so both behave alike.</summary>
[TestFixture("FileSystem")]
[TestFixture("S3")]
public sealed class TranscriptRetentionTests(string provider)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private IObjectStore _store = null!;
    private string? _root;

    [SetUp]
    public void SetUp()
    {
        if (provider == "S3")
        {
            // A bucket of its own: the sweep looks at every transcript in the bucket, other tests' too.
            var options = S3ObjectStoreTests.TestServerOptions($"retention-{Guid.NewGuid():N}");
            options.CreateBucket = true;
            _store = new S3ObjectStore(Options.Create(options));
        }
        else
        {
            _root = Path.Combine(Path.GetTempPath(), "meatlizard-retention-tests", Guid.NewGuid().ToString("N"));
            _store = new FileSystemObjectStore(Options.Create(new FileSystemObjectStoreOptions { Root = _root }));
        }
    }

    [TearDown]
    public void TearDown()
    {
        (_store as IDisposable)?.Dispose();
        if (_root is not null && Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Test]
    public async Task Sweep_DeletesTranscriptsOlderThanTheRetention_AndNothingElse()
    {
        var folder = $"{TranscriptArchive.Prefix}{Guid.NewGuid():D}/{Guid.NewGuid():D}/";
        var old = Now.AddDays(-31).ToString(TranscriptArchive.StampFormat, System.Globalization.CultureInfo.InvariantCulture);
        var recent = Now.AddDays(-29).ToString(TranscriptArchive.StampFormat, System.Globalization.CultureInfo.InvariantCulture);
        string[] expired = [$"{folder}{old}.json", $"{folder}{old}.csv"];
        string[] kept = [$"{folder}{recent}.json", $"{folder}{recent}.csv", $"{folder}notes.txt", $"backups/{old}.json"];
        foreach (var key in expired.Concat(kept))
        {
            await _store.PutAsync(key, new MemoryStream(Encoding.UTF8.GetBytes("{}")), "application/json", CancellationToken.None);
        }

        var retention = new TranscriptRetention(_store, new FakeClock(Now),
            Options.Create(new TranscriptOptions { Retention = TimeSpan.FromDays(30) }));
        var deleted = await retention.DeleteExpiredAsync(CancellationToken.None);

        var left = new List<string>();
        foreach (var prefix in new[] { TranscriptArchive.Prefix, "backups/" })
        {
            await foreach (var key in _store.ListAsync(prefix, CancellationToken.None))
            {
                left.Add(key);
            }
        }

        Assert.That(deleted, Is.EqualTo(2));
        Assert.That(left, Is.EquivalentTo(kept));
    }

    [Test]
    public async Task Sweep_WithRetentionZero_KeepsEverything()
    {
        var key = $"{TranscriptArchive.Prefix}u/s/20000101T000000.000Z.json";
        await _store.PutAsync(key, new MemoryStream([1]), "application/json", CancellationToken.None);

        var retention = new TranscriptRetention(_store, new FakeClock(Now),
            Options.Create(new TranscriptOptions { Retention = TimeSpan.Zero }));

        Assert.That(await retention.DeleteExpiredAsync(CancellationToken.None), Is.Zero);
        Assert.That(await _store.GetAsync(key, CancellationToken.None), Is.Not.Null);
    }
}
