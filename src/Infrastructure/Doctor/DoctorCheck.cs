namespace MeatLizard.Infrastructure.Doctor;

/// <summary>One line of the <c>doctor</c> verb: a dependency, what was found, and what to do when it failed.</summary>
public sealed record DoctorResult(bool Ok, string Check, string Detail, string? Fix = null)
{
    public static DoctorResult Pass(string check, string detail) => new(true, check, detail);

    public static DoctorResult Fail(string check, string detail, string fix) => new(false, check, detail, fix);

    /// <summary><c>ok   database: …</c> or <c>FAIL redis: … — what to do</c>, on one line.</summary>
    public override string ToString() =>
        (Ok ? $"ok   {Check}: {Detail}" : $"FAIL {Check}: {Detail} — {Fix}").ReplaceLineEndings(" ");
}

/// <summary>A check of one configured dependency. Never prints secrets: hosts, ids and fingerprints only.</summary>
public interface IDoctorCheck
{
    /// <summary>The check's results (a dependency may give several lines, e.g. Discord's token, guild, category).</summary>
    Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken);
}
