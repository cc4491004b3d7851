using MeatLizard.Infrastructure.Relay;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>
/// The relay key ring by fingerprint (never the key): both bots must print the same fingerprints for the same ids, or
/// neither can open the other's envelopes.
/// </summary>
public sealed class RelayKeysDoctorCheck(RelayKeyRing ring) : IDoctorCheck
{
    public Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        if (ring.IsEphemeral)
        {
            return Task.FromResult<IReadOnlyList<DoctorResult>>(
                [DoctorResult.Pass("relay keys", "one key made for this process (embedded mode: nothing to match)")]);
        }

        var keys = string.Join(", ", ring.KeyIds.Order().Select(id =>
            $"key {id}{(id == ring.ActiveKeyId ? " (active)" : "")} fingerprint {ring.Fingerprint(id)}"));
        return Task.FromResult<IReadOnlyList<DoctorResult>>(
            [DoctorResult.Pass("relay keys", $"{keys} — must match the other bot's doctor line")]);
    }
}
