using System.Security.Cryptography;
using MeatLizard.Infrastructure.Backup;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Backup;

/// <summary>The sealed backup format (<see cref="BackupKey"/>), with small chunks so every boundary is reached.</summary>
public sealed class BackupKeyTests
{
    private const int Chunk = 64;
    private const int Header = 28;
    private const int Tag = 16;
    private string _folder = null!;

    [SetUp]
    public void SetUp()
    {
        _folder = Path.Combine(Path.GetTempPath(), "meatlizard-tests", "backup-key-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(Chunk - 1)]
    [TestCase(Chunk)]
    [TestCase(Chunk + 1)]
    [TestCase(3 * Chunk)]
    [TestCase(10_000)]
    public async Task WhatIsSealed_OpensToTheSameBytes(int length)
    {
        var key = NewKey();
        var plaintext = RandomNumberGenerator.GetBytes(length);

        var sealedBytes = await SealAsync(key, plaintext);

        Assert.That(sealedBytes, Has.Length.EqualTo(Header + Math.Max(1, (length + Chunk - 1) / Chunk) * Tag + length));
        Assert.That(await OpenAsync(key, sealedBytes), Is.EqualTo(plaintext));
    }

    [Test]
    public async Task TheSameDumpSealedTwice_LooksDifferent()
    {
        var key = NewKey();
        var plaintext = new byte[3 * Chunk];

        Assert.That(await SealAsync(key, plaintext), Is.Not.EqualTo(await SealAsync(key, plaintext)),
            "each backup has its own nonces");
    }

    [Test]
    public async Task ABackupCutAtAChunkBoundary_IsRefused()
    {
        var key = NewKey();
        var sealedBytes = await SealAsync(key, RandomNumberGenerator.GetBytes(3 * Chunk));

        var cut = sealedBytes[..(Header + 2 * (Chunk + Tag))];

        Assert.That(OpenFails(key, cut), Does.Contain("damaged or cut short"));
    }

    [Test]
    public async Task ABackupWithItsChunksSwappedOrOneByteChanged_IsRefused()
    {
        var key = NewKey();
        var sealedBytes = await SealAsync(key, RandomNumberGenerator.GetBytes(3 * Chunk));

        var swapped = (byte[])sealedBytes.Clone();
        sealedBytes.AsSpan(Header, Chunk + Tag).CopyTo(swapped.AsSpan(Header + Chunk + Tag));
        sealedBytes.AsSpan(Header + Chunk + Tag, Chunk + Tag).CopyTo(swapped.AsSpan(Header));
        Assert.That(OpenFails(key, swapped), Does.Contain("damaged or cut short"));

        var changed = (byte[])sealedBytes.Clone();
        changed[Header + Chunk + Tag + 3] ^= 0x80;
        Assert.That(OpenFails(key, changed), Does.Contain("damaged or cut short"));

        var headerChanged = (byte[])sealedBytes.Clone();
        headerChanged[20] ^= 0x01;
        Assert.That(OpenFails(key, headerChanged), Does.Contain("damaged or cut short"), "the header is every chunk's associated data");
    }

    [Test]
    public async Task AnotherKey_IsToldApartFromDamage_ByItsFingerprint()
    {
        var key = NewKey();
        var other = NewKey();
        var sealedBytes = await SealAsync(key, RandomNumberGenerator.GetBytes(100));

        Assert.That(OpenFails(other, sealedBytes), Is.EqualTo(
            $"Backup:KeyFile is not the key the backup 'b' was encrypted with (it needs key {key.Fingerprint}, the file holds key {other.Fingerprint}); it is not restored."));
        Assert.That(OpenFails(key, "not a backup at all, but long enough"u8.ToArray()), Does.Contain("is not an encrypted backup"));
    }

    [Test]
    public void AKeyFileInBase64_IsTheSameKeyAsItsRawBytes()
    {
        var bytes = RandomNumberGenerator.GetBytes(32);
        File.WriteAllBytes(Path.Combine(_folder, "raw"), bytes);
        File.WriteAllText(Path.Combine(_folder, "text"), Convert.ToBase64String(bytes) + "\n");

        Assert.That(BackupKey.Load(Path.Combine(_folder, "text")).Fingerprint,
            Is.EqualTo(BackupKey.Load(Path.Combine(_folder, "raw")).Fingerprint));
    }

    private BackupKey NewKey()
    {
        var path = Path.Combine(_folder, Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(32));
        return BackupKey.Load(path);
    }

    private static async Task<byte[]> SealAsync(BackupKey key, byte[] plaintext)
    {
        using var target = new MemoryStream();
        await key.SealAsync(new MemoryStream(plaintext), target, CancellationToken.None, Chunk);
        return target.ToArray();
    }

    private static async Task<byte[]> OpenAsync(BackupKey key, byte[] sealedBytes)
    {
        using var target = new MemoryStream();
        await key.OpenAsync(new MemoryStream(sealedBytes), target, "b", CancellationToken.None);
        return target.ToArray();
    }

    private static string OpenFails(BackupKey key, byte[] sealedBytes) =>
        Assert.ThrowsAsync<InvalidDataException>(() => OpenAsync(key, sealedBytes))!.Message;
}

public sealed class BackupCommandLineTests
{
    [Test]
    public void AVerb_IsFound_AmongSettingsGivenAsKeyEqualsValue()
    {
        // ./run.sh passes its own settings along with the verb: `./run.sh backup --Data:Root=/srv/data`.
        Assert.That(BackupCommandLine.IsBackupVerb(["backup", "--Data:Root=/srv/data"]), Is.True);
        Assert.That(BackupCommandLine.IsBackupVerb(["--Backup:KeyFile=/k", "restore", "backups/x.db.enc"]), Is.True);
        Assert.That(BackupCommandLine.Verb(["--Backup:KeyFile=/k", "restore", "backups/x.db.enc"]),
            Is.EqualTo(new[] { "restore", "backups/x.db.enc" }));
        Assert.That(MeatLizard.Infrastructure.Doctor.DoctorCommandLine.IsDoctorVerb(["--Storage:Provider=Sqlite", "doctor"]), Is.True);
        Assert.That(BackupCommandLine.IsBackupVerb(["--urls=http://127.0.0.1:5080"]), Is.False);
    }
}
