using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.DataProtection;

/// <summary>
/// The operator's key for the data-protection key ring at rest (<c>DataProtection:KeyFile</c>): 32 random bytes, raw or
/// base64. Its fingerprint (the first bytes of its SHA-256) is written beside each encrypted key, so a wrong key file
/// is told apart from damaged data.
/// </summary>
public sealed class KeyRingEncryptionKey
{
    public const string Setting = "DataProtection:KeyFile";
    public const int Length = SecretKeyFile.Length;

    private readonly byte[] _key;

    private KeyRingEncryptionKey(byte[] key)
    {
        _key = key;
        Fingerprint = SecretKeyFile.Fingerprint(key);
    }

    public string Fingerprint { get; }

    /// <summary>Reads and checks the key file; a problem is a <see cref="ConfigurationException"/> naming the setting.</summary>
    public static KeyRingEncryptionKey Load(string path) => new(SecretKeyFile.Read(path, Setting));

    internal byte[] Seal(byte[] plaintext)
    {
        // nonce (12) | tag (16) | ciphertext
        var sealedBytes = new byte[AesGcm.NonceByteSizes.MaxSize + AesGcm.TagByteSizes.MaxSize + plaintext.Length];
        var nonce = sealedBytes.AsSpan(0, AesGcm.NonceByteSizes.MaxSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, AesGcm.TagByteSizes.MaxSize);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(nonce.Length + AesGcm.TagByteSizes.MaxSize),
            sealedBytes.AsSpan(nonce.Length, AesGcm.TagByteSizes.MaxSize), AssociatedData);
        return sealedBytes;
    }

    /// <summary>The plaintext, or null when the tag does not match (another key, or damaged data).</summary>
    internal byte[]? Open(byte[] sealedBytes)
    {
        const int nonceLength = 12, tagLength = 16;
        if (sealedBytes.Length < nonceLength + tagLength)
        {
            return null;
        }

        var plaintext = new byte[sealedBytes.Length - nonceLength - tagLength];
        using var aes = new AesGcm(_key, tagLength);
        try
        {
            aes.Decrypt(sealedBytes.AsSpan(0, nonceLength), sealedBytes.AsSpan(nonceLength + tagLength),
                sealedBytes.AsSpan(nonceLength, tagLength), plaintext, AssociatedData);
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    // Binds the ciphertext to its purpose, so nothing else sealed with the same key opens as a key ring entry.
    private static readonly byte[] AssociatedData = "MeatLizard data-protection key ring v1"u8.ToArray();
}

/// <summary>Encrypts the secret part of each new data-protection key with AES-256-GCM under the operator's key.</summary>
public sealed class KeyFileXmlEncryptor(KeyRingEncryptionKey key) : IXmlEncryptor
{
    internal const string ElementName = "keyFileEncrypted";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var element = new XElement(ElementName,
            new XAttribute("algorithm", "AES-256-GCM"),
            new XAttribute("keyFingerprint", key.Fingerprint),
            new XComment($" Encrypted with the key in {KeyRingEncryptionKey.Setting}. "),
            new XElement("value", Convert.ToBase64String(key.Seal(plaintext))));
        return new EncryptedXmlInfo(element, typeof(KeyFileXmlDecryptor));
    }
}

/// <summary>
/// Opens what <see cref="KeyFileXmlEncryptor"/> sealed. The framework creates it by type name, handing it the
/// service provider.
/// </summary>
public sealed class KeyFileXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        var key = services.GetService<KeyRingEncryptionKey>() ?? throw new ConfigurationException(
            $"The data-protection keys are encrypted, but {KeyRingEncryptionKey.Setting} is not set: set it to the key file they were encrypted with.");
        var fingerprint = (string?)encryptedElement.Attribute("keyFingerprint");
        var value = (string?)encryptedElement.Element("value");
        var plaintext = value is null ? null : key.Open(Convert.FromBase64String(value));
        if (plaintext is null)
        {
            throw new ConfigurationException(fingerprint is not null && fingerprint != key.Fingerprint
                ? $"{KeyRingEncryptionKey.Setting} is not the key the data-protection keys were encrypted with (they need key {fingerprint}, the file holds key {key.Fingerprint})."
                : $"A data-protection key could not be decrypted with {KeyRingEncryptionKey.Setting} (key {key.Fingerprint}): it is damaged or was encrypted with another key.");
        }

        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
