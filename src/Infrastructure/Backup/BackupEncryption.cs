using System.Buffers.Binary;
using System.Security.Cryptography;

namespace MeatLizard.Infrastructure.Backup;

/// <summary>
/// The operator's backup key (<c>Backup:KeyFile</c>, 32 random bytes) and the format it seals a backup in: AES-256-GCM
/// over chunks, so a dump of any size streams through a fixed buffer.
/// <para>
/// Layout: a 28-byte header — "MLBACKUP", version 1, the key's fingerprint (8 bytes), a random nonce prefix (7 bytes),
/// the chunk size (4 bytes, big-endian) — then each chunk's ciphertext followed by its 16-byte tag. A chunk's nonce is
/// the prefix, its index (4 bytes, big-endian) and one byte that is 1 on the last chunk only; the header is every
/// chunk's associated data. So a chunk cannot be altered, moved, dropped or cut off at its end without the tag
/// failing, and a backup cut at a chunk boundary fails because its new last chunk was not sealed as the last.
/// </para>
/// </summary>
public sealed class BackupKey
{
    public const string Setting = "Backup:KeyFile";
    internal const int DefaultChunkSize = 64 * 1024;
    private const int MaxChunkSize = 16 * 1024 * 1024;
    private const int TagLength = 16;
    private const int NoncePrefixLength = 7;
    private const int HeaderLength = 28;
    private const byte Version = 1;
    private static readonly byte[] Magic = "MLBACKUP"u8.ToArray();

    private readonly byte[] _key;
    private readonly byte[] _fingerprint;

    private BackupKey(byte[] key)
    {
        _key = key;
        _fingerprint = SHA256.HashData(key)[..8];
        Fingerprint = SecretKeyFile.Fingerprint(key);
    }

    public string Fingerprint { get; }

    /// <summary>Reads and checks the key file; a problem is a <see cref="ConfigurationException"/> naming the setting.</summary>
    public static BackupKey Load(string path) => new(SecretKeyFile.Read(path, Setting));

    /// <summary>Whether the file starts as a sealed backup does.</summary>
    public static async Task<bool> IsSealedAsync(string file, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(file);
        var start = new byte[Magic.Length];
        var read = await stream.ReadAtLeastAsync(start, start.Length, throwOnEndOfStream: false, cancellationToken);
        return read == Magic.Length && start.AsSpan().SequenceEqual(Magic);
    }

    public async Task SealAsync(Stream plaintext, Stream target, CancellationToken cancellationToken,
        int chunkSize = DefaultChunkSize)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkSize, MaxChunkSize);
        var header = new byte[HeaderLength];
        Magic.CopyTo(header, 0);
        header[8] = Version;
        _fingerprint.CopyTo(header, 9);
        RandomNumberGenerator.Fill(header.AsSpan(17, NoncePrefixLength));
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(24), (uint)chunkSize);
        await target.WriteAsync(header, cancellationToken);

        using var aes = new AesGcm(_key, TagLength);
        var current = new byte[chunkSize];
        var next = new byte[chunkSize];
        var sealedChunk = new byte[chunkSize + TagLength];
        var currentLength = await plaintext.ReadAtLeastAsync(current, chunkSize, throwOnEndOfStream: false, cancellationToken);
        for (uint index = 0; ; index++)
        {
            // Read one chunk ahead: the chunk being sealed is the last when nothing follows it.
            var nextLength = currentLength < chunkSize
                ? 0
                : await plaintext.ReadAtLeastAsync(next, chunkSize, throwOnEndOfStream: false, cancellationToken);
            var last = nextLength == 0;
            var nonce = Nonce(header, index, last);
            aes.Encrypt(nonce, current.AsSpan(0, currentLength), sealedChunk.AsSpan(0, currentLength),
                sealedChunk.AsSpan(currentLength, TagLength), header);
            await target.WriteAsync(sealedChunk.AsMemory(0, currentLength + TagLength), cancellationToken);
            if (last)
            {
                return;
            }

            (current, next) = (next, current);
            currentLength = nextLength;
        }
    }

    /// <summary>
    /// Writes the plaintext of a sealed backup to <paramref name="target"/>. Throws <see cref="InvalidDataException"/>
    /// with one line, naming <paramref name="name"/>, when this is not the backup's key or the backup is damaged; what
    /// was written by then must be thrown away.
    /// </summary>
    public async Task OpenAsync(Stream sealedBackup, Stream target, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sealedBackup);
        ArgumentNullException.ThrowIfNull(target);
        var header = new byte[HeaderLength];
        var headerLength = await sealedBackup.ReadAtLeastAsync(header, HeaderLength, throwOnEndOfStream: false, cancellationToken);
        if (headerLength < HeaderLength || !header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"The backup '{name}' is not an encrypted backup (its header is missing); it is not restored.");
        }

        if (header[8] != Version)
        {
            throw new InvalidDataException($"The backup '{name}' was encrypted in format version {header[8]}, which this version cannot read; it is not restored.");
        }

        if (!header.AsSpan(9, 8).SequenceEqual(_fingerprint))
        {
            throw new InvalidDataException(
                $"{Setting} is not the key the backup '{name}' was encrypted with (it needs key {Convert.ToHexStringLower(header.AsSpan(9, 8))}, the file holds key {Fingerprint}); it is not restored.");
        }

        var chunkSize = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(24));
        if (chunkSize is 0 or > MaxChunkSize)
        {
            throw Damaged(name);
        }

        using var aes = new AesGcm(_key, TagLength);
        var current = new byte[chunkSize + TagLength];
        var next = new byte[chunkSize + TagLength];
        var plaintext = new byte[chunkSize];
        var currentLength = await sealedBackup.ReadAtLeastAsync(current, current.Length, throwOnEndOfStream: false, cancellationToken);
        for (uint index = 0; ; index++)
        {
            if (currentLength < TagLength)
            {
                throw Damaged(name);
            }

            var nextLength = currentLength < current.Length
                ? 0
                : await sealedBackup.ReadAtLeastAsync(next, next.Length, throwOnEndOfStream: false, cancellationToken);
            var last = nextLength == 0;
            var length = currentLength - TagLength;
            try
            {
                aes.Decrypt(Nonce(header, index, last), current.AsSpan(0, length), current.AsSpan(length, TagLength),
                    plaintext.AsSpan(0, length), header);
            }
            catch (AuthenticationTagMismatchException)
            {
                throw Damaged(name);
            }

            await target.WriteAsync(plaintext.AsMemory(0, length), cancellationToken);
            if (last)
            {
                return;
            }

            (current, next) = (next, current);
            currentLength = nextLength;
        }
    }

    private InvalidDataException Damaged(string name) => new(
        $"The backup '{name}' cannot be decrypted with {Setting} (key {Fingerprint}): it is damaged or cut short; it is not restored.");

    private static byte[] Nonce(byte[] header, uint index, bool last)
    {
        var nonce = new byte[NoncePrefixLength + 5];
        header.AsSpan(17, NoncePrefixLength).CopyTo(nonce);
        BinaryPrimitives.WriteUInt32BigEndian(nonce.AsSpan(NoncePrefixLength), index);
        nonce[^1] = last ? (byte)1 : (byte)0;
        return nonce;
    }
}
