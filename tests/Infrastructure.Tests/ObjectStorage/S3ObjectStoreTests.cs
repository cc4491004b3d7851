using System.Net;
using System.Security.Cryptography;
using System.Text;
using MeatLizard.Infrastructure.ObjectStorage;
using MeatLizard.Infrastructure.Tests.Redis;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.ObjectStorage;

/// <summary>Against the S3-compatible server ./test.sh starts (s3rver); every object is read back byte for byte.</summary>
public sealed class S3ObjectStoreTests
{
    private S3ObjectStoreOptions _options = null!;
    private S3ObjectStore _store = null!;
    private string _prefix = null!;

    public static S3ObjectStoreOptions TestServerOptions(string? bucket = null) => new()
    {
        ServiceUrl = RedisTestServer.RequiredEnvironment("MEATLIZARD_TEST_S3", "the S3 server (s3rver)"),
        AccessKey = RedisTestServer.RequiredEnvironment("MEATLIZARD_TEST_S3_ACCESS_KEY", "the S3 server (s3rver)"),
        SecretKey = RedisTestServer.RequiredEnvironment("MEATLIZARD_TEST_S3_SECRET_KEY", "the S3 server (s3rver)"),
        Bucket = bucket ?? RedisTestServer.RequiredEnvironment("MEATLIZARD_TEST_S3_BUCKET", "the S3 server (s3rver)"),
        ForcePathStyle = true,
    };

    [SetUp]
    public void SetUp()
    {
        _options = TestServerOptions();
        _store = new S3ObjectStore(Options.Create(_options));
        _prefix = $"tests/{Guid.NewGuid():N}/";
    }

    [TearDown]
    public void TearDown() => _store.Dispose();

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(70_000)]
    [TestCase(9 * 1024 * 1024 + 13)]
    public async Task Put_ThenGet_ReturnsTheSameBytes(int size)
    {
        var bytes = RandomNumberGenerator.GetBytes(size);

        await _store.PutAsync(_prefix + "blob.bin", new MemoryStream(bytes), "application/octet-stream", CancellationToken.None);

        Assert.That(await ReadAllAsync(_prefix + "blob.bin"), Is.EqualTo(bytes));
    }

    [Test]
    public async Task Put_FromAStreamThatCannotSeek_StoresEveryByte()
    {
        var bytes = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 7);

        await _store.PutAsync(_prefix + "piped.bin", new ForwardOnlyStream(bytes), "application/octet-stream", CancellationToken.None);

        Assert.That(await ReadAllAsync(_prefix + "piped.bin"), Is.EqualTo(bytes));
    }

    [Test]
    public async Task Put_OverAnExistingKey_ReplacesIt()
    {
        await _store.PutAsync(_prefix + "a.txt", Text("first"), "text/plain", CancellationToken.None);
        await _store.PutAsync(_prefix + "a.txt", Text("second"), "text/plain", CancellationToken.None);

        Assert.That(Encoding.UTF8.GetString(await ReadAllAsync(_prefix + "a.txt")), Is.EqualTo("second"));
    }

    [Test]
    public async Task Get_AMissingKey_ReturnsNull()
    {
        Assert.That(await _store.GetAsync(_prefix + "nothing-here", CancellationToken.None), Is.Null);
    }

    [Test]
    public async Task Delete_SaysWhetherThereWasAnObject()
    {
        await _store.PutAsync(_prefix + "gone.txt", Text("x"), "text/plain", CancellationToken.None);

        var first = await _store.DeleteAsync(_prefix + "gone.txt", CancellationToken.None);
        var second = await _store.DeleteAsync(_prefix + "gone.txt", CancellationToken.None);
        var afterwards = await _store.GetAsync(_prefix + "gone.txt", CancellationToken.None);

        Assert.That((first, second, afterwards), Is.EqualTo((true, false, (Stream?)null)));
    }

    [Test]
    public async Task List_ReturnsTheKeysUnderThePrefixInOrder()
    {
        foreach (var key in new[] { "b/2.json", "a/1.json", "a/0.csv", "c.txt" })
        {
            await _store.PutAsync(_prefix + key, Text(key), "text/plain", CancellationToken.None);
        }

        var underA = await _store.ListAsync(_prefix + "a/", CancellationToken.None).ToListAsync();
        var all = await _store.ListAsync(_prefix, CancellationToken.None).ToListAsync();

        Assert.Multiple(() =>
        {
            Assert.That(underA, Is.EqualTo(new[] { _prefix + "a/0.csv", _prefix + "a/1.json" }));
            Assert.That(all, Is.EqualTo(new[] { "a/0.csv", "a/1.json", "b/2.json", "c.txt" }.Select(k => _prefix + k)));
        });
    }

    [Test]
    public async Task DownloadLink_WorksWithAPlainHttpClient_UntilItExpires()
    {
        var bytes = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 1);
        await _store.PutAsync(_prefix + "transcript.json", new MemoryStream(bytes), "application/json", CancellationToken.None);

        var link = await _store.CreateDownloadLinkAsync(_prefix + "transcript.json", "chat é.json", TimeSpan.FromMinutes(5),
            CancellationToken.None);
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(link.Url));
        var downloaded = await response.Content.ReadAsByteArrayAsync();
        // s3rver does not verify SigV4 signatures (real S3 does), but it does enforce the expiry.
        var shortLived = await _store.CreateDownloadLinkAsync(_prefix + "transcript.json", "chat.json",
            TimeSpan.FromSeconds(1), CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        using var expired = await http.GetAsync(new Uri(shortLived.Url));

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(downloaded, Is.EqualTo(bytes));
            Assert.That(response.Content.Headers.ContentDisposition?.FileNameStar, Is.EqualTo("chat é.json"));
            Assert.That(link.ExpiresAt, Is.EqualTo(DateTimeOffset.UtcNow.AddMinutes(5)).Within(TimeSpan.FromSeconds(30)));
            // The SDK writes the distance from its own clock, which it corrects by the server's Date header (whole
            // seconds), rounded to the second: 300 s asked may be signed as 299–301.
            Assert.That(link.Url, Does.Match("X-Amz-Expires=(299|300|301)&"));
            Assert.That(expired.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        });
    }

    [Test]
    public async Task Put_WithCreateBucket_CreatesAMissingBucketOnce()
    {
        var options = TestServerOptions($"created-{Guid.NewGuid():N}"[..30]);
        options.CreateBucket = true;
        using var store = new S3ObjectStore(Options.Create(options));

        var before = await store.ListAsync(string.Empty, CancellationToken.None).ToListAsync();
        await store.PutAsync("one.txt", Text("1"), "text/plain", CancellationToken.None);
        await store.PutAsync("two.txt", Text("2"), "text/plain", CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(before, Is.Empty);
            Assert.That(await store.ListAsync(string.Empty, CancellationToken.None).ToListAsync(), Is.EqualTo(new[] { "one.txt", "two.txt" }));
        });
    }

    private static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));

    private async Task<byte[]> ReadAllAsync(string key)
    {
        await using var stream = await _store.GetAsync(key, CancellationToken.None);
        Assert.That(stream, Is.Not.Null, key);
        using var copy = new MemoryStream();
        await stream!.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>A stream that can only be read forward, like a pipe or a network body.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
