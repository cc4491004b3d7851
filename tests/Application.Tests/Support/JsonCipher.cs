using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using Moq;

namespace MeatLizard.Application.Tests.Support;

/// <summary>
/// A stand-in for the AES-GCM cipher (tested with Infrastructure): the wire is "direction|json", so a test can read
/// what was sent and a packet sealed for the other direction is rejected, as the real AAD would. Replays of
/// (requestId, type, seq) are refused as the real cipher refuses them: at once when opened with
/// <see cref="IEnvelopeCipher.OpenAsync"/>, after <see cref="IEnvelopeCipher.MarkHandledAsync"/> otherwise.
/// </summary>
public static class JsonCipher
{
    public const string Garbage = "not-an-envelope";

    public static Mock<IEnvelopeCipher> CreateMock()
    {
        var cipher = new Mock<IEnvelopeCipher>(MockBehavior.Strict);
        var handled = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        cipher.Setup(c => c.Seal(It.IsAny<RelayEnvelope>(), It.IsAny<RelayDirection>()))
            .Returns((RelayEnvelope envelope, RelayDirection direction) => Seal(envelope, direction));
        cipher.Setup(c => c.OpenAsync(It.IsAny<string>(), It.IsAny<RelayDirection>(), It.IsAny<Guid?>(),
                It.IsAny<CancellationToken>()))
            .Returns((string wire, RelayDirection direction, Guid? expectedSessionId, CancellationToken _) =>
                ValueTask.FromResult(Open(wire, direction, expectedSessionId) is { IsValid: true } opened
                    && !handled.TryAdd(ReplayKey(opened.Envelope!), true)
                        ? EnvelopeOpenResult.Rejected(EnvelopeRejection.Replayed)
                        : Open(wire, direction, expectedSessionId)));
        cipher.Setup(c => c.OpenUnhandledAsync(It.IsAny<string>(), It.IsAny<RelayDirection>(), It.IsAny<Guid?>(),
                It.IsAny<CancellationToken>()))
            .Returns((string wire, RelayDirection direction, Guid? expectedSessionId, CancellationToken _) =>
                ValueTask.FromResult(Open(wire, direction, expectedSessionId) is { IsValid: true } opened
                    && handled.ContainsKey(ReplayKey(opened.Envelope!))
                        ? EnvelopeOpenResult.Rejected(EnvelopeRejection.Replayed)
                        : Open(wire, direction, expectedSessionId)));
        cipher.Setup(c => c.MarkHandledAsync(It.IsAny<RelayEnvelope>(), It.IsAny<CancellationToken>()))
            .Returns((RelayEnvelope envelope, CancellationToken _) =>
            {
                handled.TryAdd(ReplayKey(envelope), true);
                return ValueTask.CompletedTask;
            });
        return cipher;
    }

    public static string Seal(RelayEnvelope envelope, RelayDirection direction) =>
        $"{(int)direction}|{JsonSerializer.Serialize(envelope, RelayJson.Options)}";

    public static (RelayEnvelope Envelope, RelayDirection Direction) Read(string wire)
    {
        var separator = wire.IndexOf('|', StringComparison.Ordinal);
        var direction = (RelayDirection)int.Parse(wire[..separator], System.Globalization.CultureInfo.InvariantCulture);
        var envelope = JsonSerializer.Deserialize<RelayEnvelope>(wire[(separator + 1)..], RelayJson.Options)!;
        return (envelope, direction);
    }

    private static string ReplayKey(RelayEnvelope envelope) => $"{envelope.RequestId:N}:{envelope.Type}:{envelope.Seq}";

    private static EnvelopeOpenResult Open(string wire, RelayDirection direction, Guid? expectedSessionId)
    {
        if (!wire.Contains('|', StringComparison.Ordinal))
        {
            return EnvelopeOpenResult.Rejected(EnvelopeRejection.BadPrefix);
        }

        var (envelope, sealedFor) = Read(wire);
        if (sealedFor != direction)
        {
            return EnvelopeOpenResult.Rejected(EnvelopeRejection.TagMismatch);
        }

        return expectedSessionId is { } expected && expected != envelope.SessionId
            ? EnvelopeOpenResult.Rejected(EnvelopeRejection.SessionMismatch)
            : EnvelopeOpenResult.Ok(envelope);
    }
}
