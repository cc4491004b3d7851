using MeatLizard.Infrastructure.Doctor;

namespace MeatLizard.Infrastructure.Discord.Setup;

/// <summary>
/// A part of the <c>setup</c> verb beside Discord's, asked for on its command line (the server bot's <c>--admin USER</c>).
/// Its checks run with Discord's, before anything is changed: when one fails, nothing is changed anywhere. It runs
/// after Discord's changes and the settings file; a failed line of its own makes the verb exit 1.
/// </summary>
public interface ISetupStep
{
    /// <summary>What must hold before anything is changed, one line each (a <see cref="DoctorResult.Fail"/> stops the verb).</summary>
    Task<IReadOnlyList<DoctorResult>> CheckAsync(CancellationToken cancellationToken);

    /// <summary>Does the step; what it did (or why it could not), one line each.</summary>
    Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken);
}
