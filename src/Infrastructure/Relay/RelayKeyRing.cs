using System.Security.Cryptography;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// The validated relay keys. Holds key material, so it never prints it: only ids and whether the key is ephemeral.
/// </summary>
public sealed class RelayKeyRing
{
    public const int KeySize = 32;

    private readonly byte[]?[] _keys = new byte[]?[256];

    private RelayKeyRing(IEnumerable<(byte Id, byte[] Key)> keys, byte activeKeyId, bool isEphemeral)
    {
        foreach (var (id, key) in keys)
        {
            _keys[id] = key;
        }

        ActiveKeyId = activeKeyId;
        IsEphemeral = isEphemeral;
        KeyIds = [.. keys.Select(k => k.Id)];
    }

    public byte ActiveKeyId { get; }

    public IReadOnlyList<byte> KeyIds { get; }

    /// <summary>True when no keys were configured and a random key was made for this process (embedded mode).</summary>
    public bool IsEphemeral { get; }

    /// <summary>A ring of the given keys (id → 32 bytes). Mainly for tests and tools; hosts use <see cref="FromOptions"/>.</summary>
    public static RelayKeyRing Create(IReadOnlyDictionary<byte, byte[]> keys, byte activeKeyId)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var (id, key) in keys)
        {
            if (key.Length != KeySize)
            {
                throw new ArgumentException($"Relay key {id} must be {KeySize} bytes (got {key.Length}).", nameof(keys));
            }
        }

        if (!keys.ContainsKey(activeKeyId))
        {
            throw new ArgumentException($"Active key {activeKeyId} is not one of the keys.", nameof(activeKeyId));
        }

        return new RelayKeyRing(keys.Select(k => (k.Key, (byte[])k.Value.Clone())).ToList(), activeKeyId, false);
    }

    /// <summary>One random key, id 0, for this process only.</summary>
    public static RelayKeyRing CreateEphemeral() =>
        new([(0, RandomNumberGenerator.GetBytes(KeySize))], 0, isEphemeral: true);

    /// <summary>Validates the "Relay" settings; throws <see cref="ConfigurationException"/> naming the bad key.</summary>
    /// <param name="options">The bound settings.</param>
    /// <param name="allowEphemeralKey">Whether a missing key list may be replaced by a random per-process key.</param>
    /// <param name="transport">The configured <c>Relay:Transport</c>, for the message when keys are required.</param>
    public static RelayKeyRing FromOptions(RelayKeyOptions options, bool allowEphemeralKey, string transport)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Keys.Count == 0)
        {
            return allowEphemeralKey
                ? CreateEphemeral()
                : throw new ConfigurationException(
                    $"Relay:Keys is required when Relay:Transport is {transport} (both bots need the same keys): " +
                    "set Relay:Keys:0:Id, Relay:Keys:0:Key (32 random bytes in base64) and Relay:ActiveKeyId.");
        }

        var keys = new List<(byte Id, byte[] Key)>(options.Keys.Count);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            keys.Add(ReadEntry(options.Keys[i], i, keys));
        }

        byte active;
        if (options.ActiveKeyId is { } wanted)
        {
            if (!keys.Exists(k => k.Id == wanted))
            {
                throw new ConfigurationException($"Relay:ActiveKeyId {wanted} is not one of Relay:Keys.");
            }

            active = (byte)wanted;
        }
        else if (keys.Count == 1)
        {
            active = keys[0].Id;
        }
        else
        {
            throw new ConfigurationException(
                "Relay:ActiveKeyId is required when Relay:Keys lists more than one key.");
        }

        return new RelayKeyRing(keys, active, isEphemeral: false);
    }

    internal byte[]? GetKey(byte id) => _keys[id];

    /// <summary>Every key's <see cref="Fingerprint"/>, by id: what another host compares its own keys with.</summary>
    public IReadOnlyList<RelayKeyFingerprint> Fingerprints =>
        [.. KeyIds.Order().Select(id => new RelayKeyFingerprint(id, Fingerprint(id)))];

    /// <summary>
    /// A short fingerprint of key <paramref name="id"/> to compare between hosts: the first 16 hex digits of SHA-256 over
    /// a fixed label and the key. It tells whether two hosts hold the same key without showing it.
    /// </summary>
    /// <remarks>
    /// It is a truncated hash (64 bits) of a random 256-bit key: it gives an attacker no way to the key shorter than
    /// trying keys one by one, and opens and seals nothing. It is still not for anyone: the relay endpoint tells it only
    /// to a host with a live token, since a stranger has no use for it but to see which keys are in use and when they
    /// change.
    /// </remarks>
    public string Fingerprint(byte id)
    {
        var key = _keys[id] ?? throw new ArgumentOutOfRangeException(nameof(id), $"No relay key {id}.");
        var label = "MeatLizard relay key fingerprint v1\n"u8;
        var input = new byte[label.Length + key.Length];
        label.CopyTo(input);
        key.CopyTo(input, label.Length);
        return Convert.ToHexStringLower(SHA256.HashData(input))[..16];
    }

    private static (byte Id, byte[] Key) ReadEntry(RelayKeyEntry? entry, int index, List<(byte Id, byte[] Key)> earlier)
    {
        var path = $"Relay:Keys:{index}";
        if (entry?.Id is not { } id)
        {
            throw new ConfigurationException($"{path}:Id is required (0–255).");
        }

        if (id is < 0 or > 255)
        {
            throw new ConfigurationException($"{path}:Id must be between 0 and 255 (got {id}).");
        }

        if (earlier.Exists(k => k.Id == id))
        {
            throw new ConfigurationException($"{path}:Id {id} is listed twice in Relay:Keys.");
        }

        if (string.IsNullOrWhiteSpace(entry.Key))
        {
            throw new ConfigurationException($"{path}:Key is required ({KeySize} random bytes in base64).");
        }

        var buffer = new byte[(entry.Key.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(entry.Key.Trim(), buffer, out var length))
        {
            throw new ConfigurationException($"{path}:Key is not valid base64.");
        }

        if (length != KeySize)
        {
            CryptographicOperations.ZeroMemory(buffer);
            throw new ConfigurationException($"{path}:Key must be {KeySize} bytes in base64 (got {length}).");
        }

        var key = buffer.AsSpan(0, KeySize).ToArray();
        CryptographicOperations.ZeroMemory(buffer);
        return ((byte)id, key);
    }
}

/// <summary>A relay key's id and <see cref="RelayKeyRing.Fingerprint"/>, never the key.</summary>
public sealed record RelayKeyFingerprint(byte Id, string Fingerprint);
