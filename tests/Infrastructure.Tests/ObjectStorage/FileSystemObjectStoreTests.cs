using MeatLizard.Infrastructure.ObjectStorage;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.ObjectStorage;

public sealed class FileSystemObjectStoreTests
{
    private string _sandbox = null!;
    private string _root = null!;
    private FileSystemObjectStore _store = null!;

    [SetUp]
    public void SetUp()
    {
        // The root sits one level down, so a key that escaped it would land in the sandbox where the test can see it.
        _sandbox = Path.Combine(Path.GetTempPath(), "meatlizard-objects-" + Guid.NewGuid().ToString("N"));
        _root = Path.Combine(_sandbox, "objects");
        _store = new FileSystemObjectStore(Options.Create(new FileSystemObjectStoreOptions { Root = _root }));
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_sandbox))
        {
            Directory.Delete(_sandbox, recursive: true);
        }
    }

    [Test]
    public async Task Put_ThenGet_ReturnsTheSameBytes()
    {
        var bytes = new byte[300_000];
        new Random(7).NextBytes(bytes);

        await PutAsync("transcripts/2025/session.bin", bytes);
        var read = await GetAsync("transcripts/2025/session.bin");

        Assert.That(read, Is.EqualTo(bytes));
    }

    [Test]
    public async Task Put_OfAnEmptyObject_StoresAnEmptyObject()
    {
        await PutAsync("empty", []);

        Assert.That(await GetAsync("empty"), Is.Empty);
    }

    [Test]
    public async Task Get_OfAMissingKey_ReturnsNull()
    {
        await PutAsync("present/a.txt", [1]);

        var absent = await _store.GetAsync("absent.txt", CancellationToken.None);
        var absentDirectory = await _store.GetAsync("nowhere/deep/a.txt", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(absent, Is.Null);
            Assert.That(absentDirectory, Is.Null);
        });
    }

    [Test]
    public async Task Put_OverAnExistingKey_ReplacesTheContent()
    {
        await PutAsync("note.txt", [1, 2, 3, 4, 5]);
        await PutAsync("note.txt", [9]);

        Assert.That(await GetAsync("note.txt"), Is.EqualTo(new byte[] { 9 }));
    }

    [Test]
    public async Task Put_WhenTheSourceFailsMidway_KeepsTheOldObjectAndLeavesNoTemporaryFile()
    {
        await PutAsync("backup.db", [1, 2, 3]);

        Assert.ThrowsAsync<IOException>(() => _store.PutAsync(
            "backup.db", new FailingStream(bytesBeforeFailure: 100_000), "application/octet-stream", CancellationToken.None));

        var kept = await GetAsync("backup.db");
        var files = Directory.GetFiles(_root, "*", SearchOption.AllDirectories).Select(Path.GetFileName);

        Assert.Multiple(() =>
        {
            Assert.That(kept, Is.EqualTo(new byte[] { 1, 2, 3 }));
            Assert.That(files, Is.EqualTo(new[] { "backup.db" }));
        });
    }

    [Test]
    public async Task List_YieldsTheKeysUnderThePrefixInOrdinalOrder()
    {
        foreach (var key in new[] { "a/b.txt", "a/c/d.txt", "a/B.txt", "ab.txt", "b/a.txt", "a/b2.txt" })
        {
            await PutAsync(key, [1]);
        }

        var underA = await ListAsync("a/");
        var startingWithAB = await ListAsync("a/b");
        var startingWithA = await ListAsync("a");
        var everything = await ListAsync(string.Empty);
        var none = await ListAsync("zzz/");

        Assert.Multiple(() =>
        {
            Assert.That(underA, Is.EqualTo(new[] { "a/B.txt", "a/b.txt", "a/b2.txt", "a/c/d.txt" }));
            Assert.That(startingWithAB, Is.EqualTo(new[] { "a/b.txt", "a/b2.txt" }));
            Assert.That(startingWithA, Is.EqualTo(new[] { "a/B.txt", "a/b.txt", "a/b2.txt", "a/c/d.txt", "ab.txt" }));
            Assert.That(everything, Is.EqualTo(new[] { "a/B.txt", "a/b.txt", "a/b2.txt", "a/c/d.txt", "ab.txt", "b/a.txt" }));
            Assert.That(none, Is.Empty);
        });
    }

    [Test]
    public async Task List_DoesNotShowWritesInProgress()
    {
        await PutAsync("a/done.txt", [1]);
        await File.WriteAllBytesAsync(Path.Combine(_root, "a", FileSystemObjectStore.TempPrefix + "123"), [1]);

        Assert.That(await ListAsync("a/"), Is.EqualTo(new[] { "a/done.txt" }));
    }

    [Test]
    public async Task Delete_RemovesTheObjectAndSaysWhetherItExisted()
    {
        await PutAsync("gone/soon.txt", [1]);

        var first = await _store.DeleteAsync("gone/soon.txt", CancellationToken.None);
        var second = await _store.DeleteAsync("gone/soon.txt", CancellationToken.None);
        var after = await _store.GetAsync("gone/soon.txt", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.True);
            Assert.That(second, Is.False);
            Assert.That(after, Is.Null);
        });
    }

    [TestCase("")]
    [TestCase("../outside.txt")]
    [TestCase("a/../../outside.txt")]
    [TestCase("a/../b.txt")]
    [TestCase("./a.txt")]
    [TestCase("/etc/passwd")]
    [TestCase("a\\..\\..\\outside.txt")]
    [TestCase("a//b.txt")]
    [TestCase("a/")]
    [TestCase("C:/outside.txt")]
    [TestCase(".partial-abc")]
    public void Operations_OnAKeyThatCouldEscapeTheRoot_AreRejected(string key)
    {
        Assert.Multiple(() =>
        {
            Assert.ThrowsAsync<ArgumentException>(() => _store.PutAsync(key, new MemoryStream([1]), "text/plain", CancellationToken.None));
            Assert.ThrowsAsync<ArgumentException>(() => _store.GetAsync(key, CancellationToken.None));
            Assert.ThrowsAsync<ArgumentException>(() => _store.DeleteAsync(key, CancellationToken.None));
        });
        Assert.That(Directory.Exists(_sandbox) ? Directory.GetFiles(_sandbox, "*", SearchOption.AllDirectories) : [],
            Is.Empty);
    }

    [TestCase("../")]
    [TestCase("a/../")]
    [TestCase("/")]
    [TestCase("a\\b")]
    public void List_WithAPrefixThatCouldEscapeTheRoot_IsRejected(string prefix)
    {
        Assert.ThrowsAsync<ArgumentException>(() => ListAsync(prefix));
    }

    private async Task PutAsync(string key, byte[] bytes)
    {
        using var content = new MemoryStream(bytes);
        await _store.PutAsync(key, content, "application/octet-stream", CancellationToken.None);
    }

    private async Task<byte[]?> GetAsync(string key)
    {
        await using var stream = await _store.GetAsync(key, CancellationToken.None);
        if (stream is null)
        {
            return null;
        }

        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private async Task<List<string>> ListAsync(string prefix)
    {
        var keys = new List<string>();
        await foreach (var key in _store.ListAsync(prefix, CancellationToken.None))
        {
            keys.Add(key);
        }

        return keys;
    }

    /// <summary>Gives some bytes, then fails as a dropped upload would.</summary>
    private sealed class FailingStream(int bytesBeforeFailure) : Stream
    {
        private int _given;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _given;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_given >= bytesBeforeFailure)
            {
                throw new IOException("The connection was lost.");
            }

            var n = Math.Min(count, bytesBeforeFailure - _given);
            Array.Fill(buffer, (byte)42, offset, n);
            _given += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
