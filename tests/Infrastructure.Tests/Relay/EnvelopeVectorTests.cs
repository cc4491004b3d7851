using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay;

/// <summary>The published vectors in docs/relay-envelope.md are read from the document itself, so it cannot drift.</summary>
public sealed partial class EnvelopeVectorTests
{
    public sealed record Vector(
        string Name, byte[] Key, byte KeyId, byte[] Nonce, RelayDirection Direction, string Plaintext, string Wire)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Vector> Vectors() => ReadVectors();

    [Test]
    public void Document_PublishesAtLeastThreeVectors_InBothDirections()
    {
        var vectors = ReadVectors();

        Assert.That(vectors, Has.Count.GreaterThanOrEqualTo(3));
        Assert.That(vectors.Select(v => v.Direction).Distinct().Count(), Is.EqualTo(2));
    }

    [TestCaseSource(nameof(Vectors))]
    public void Seal_WithTheVectorsNonce_ReproducesTheWireTextExactly(Vector vector)
    {
        using var doc = JsonDocument.Parse(vector.Plaintext);
        var root = doc.RootElement;
        var envelope = new RelayEnvelope(
            Enum.Parse<EnvelopeType>(root.GetProperty("type").GetString()!, ignoreCase: true),
            root.GetProperty("sessionId").GetGuid(), root.GetProperty("requestId").GetGuid(),
            root.GetProperty("seq").GetInt32(), root.GetProperty("sentAt").GetDateTimeOffset(),
            root.GetProperty("body").Clone());
        var clock = new TestClock(envelope.SentAt);
        using var cipher = RelayTestKit.Cipher(RelayTestKit.Ring(vector.KeyId, vector.Key), clock, fixedNonce: vector.Nonce);

        Assert.That(cipher.Seal(envelope, vector.Direction), Is.EqualTo(vector.Wire));
    }

    [TestCaseSource(nameof(Vectors))]
    public async Task Open_WithTheClockAtSentAt_ReturnsTheVectorsEnvelope(Vector vector)
    {
        using var expected = JsonDocument.Parse(vector.Plaintext);
        var sentAt = expected.RootElement.GetProperty("sentAt").GetDateTimeOffset();
        using var cipher = RelayTestKit.Cipher(RelayTestKit.Ring(vector.KeyId, vector.Key), new TestClock(sentAt));

        var opened = await cipher.OpenAsync(vector.Wire, vector.Direction, null, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.None));
        var envelope = opened.Envelope!;
        Assert.Multiple(() =>
        {
            Assert.That(envelope.Type.ToString(), Is.EqualTo(expected.RootElement.GetProperty("type").GetString()).IgnoreCase);
            Assert.That(envelope.SessionId, Is.EqualTo(expected.RootElement.GetProperty("sessionId").GetGuid()));
            Assert.That(envelope.RequestId, Is.EqualTo(expected.RootElement.GetProperty("requestId").GetGuid()));
            Assert.That(envelope.Seq, Is.EqualTo(expected.RootElement.GetProperty("seq").GetInt32()));
            Assert.That(envelope.SentAt, Is.EqualTo(sentAt));
            Assert.That(envelope.SentAt.Offset, Is.EqualTo(sentAt.Offset));
            Assert.That(envelope.Body.GetRawText(), Is.EqualTo(expected.RootElement.GetProperty("body").GetRawText()));
        });
    }

    /// <summary>Decodes the wire text by the document's byte layout alone, with the framework's AesGcm.</summary>
    [TestCaseSource(nameof(Vectors))]
    public void WireText_FollowsTheDocumentedLayout(Vector vector)
    {
        Assert.That(vector.Wire, Does.StartWith("ML1."));
        var text = vector.Wire["ML1.".Length..];
        Assert.That(text, Does.Match("^[A-Za-z0-9_-]+$"), "base64url without padding");

        var packet = Base64Url.DecodeFromChars(text);
        var ciphertextLength = packet.Length - 2 - 12 - 16;
        var plaintext = new byte[ciphertextLength];
        using var aes = new AesGcm(vector.Key, 16);
        aes.Decrypt(packet.AsSpan(2, 12), packet.AsSpan(14, ciphertextLength), packet.AsSpan(14 + ciphertextLength),
            plaintext, [1, vector.KeyId, (byte)vector.Direction]);

        Assert.Multiple(() =>
        {
            Assert.That(packet[0], Is.EqualTo(1), "version");
            Assert.That(packet[1], Is.EqualTo(vector.KeyId), "key id");
            Assert.That(packet.AsSpan(2, 12).ToArray(), Is.EqualTo(vector.Nonce), "nonce");
            Assert.That(Encoding.UTF8.GetString(plaintext), Is.EqualTo(vector.Plaintext));
        });
    }

    [TestCaseSource(nameof(Vectors))]
    public async Task Open_ForTheOtherDirection_IsRejectedAsTagMismatch(Vector vector)
    {
        using var doc = JsonDocument.Parse(vector.Plaintext);
        var clock = new TestClock(doc.RootElement.GetProperty("sentAt").GetDateTimeOffset());
        using var cipher = RelayTestKit.Cipher(RelayTestKit.Ring(vector.KeyId, vector.Key), clock);
        var other = vector.Direction == RelayDirection.ServerToClient
            ? RelayDirection.ClientToServer
            : RelayDirection.ServerToClient;

        var opened = await cipher.OpenAsync(vector.Wire, other, null, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.TagMismatch));
    }

    private static List<Vector> ReadVectors()
    {
        var document = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "relay-envelope.md"));
        return [.. VectorSection().Matches(document).Select(match =>
        {
            var fields = match.Groups["block"].Value
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split(':', 2))
                .ToDictionary(parts => parts[0], parts => parts[1].Trim());
            return new Vector(match.Groups["name"].Value.Trim(), Convert.FromHexString(fields["key"]),
                byte.Parse(fields["keyId"], System.Globalization.CultureInfo.InvariantCulture),
                Convert.FromHexString(fields["nonce"]), (RelayDirection)byte.Parse(fields["direction"],
                    System.Globalization.CultureInfo.InvariantCulture), fields["plaintext"], fields["wire"]);
        })];
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MeatLizard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("MeatLizard.sln not found above the test directory.");
    }

    [GeneratedRegex(@"^### (?<name>Vector \d+[^\n]*)\n+```text\n(?<block>.*?)```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex VectorSection();
}
