namespace MeatLizard.Application.Imports;

/// <summary>Imports (<c>POST /api/v1/imports</c>), section <c>Imports</c>.</summary>
public sealed class ImportOptions
{
    public const string Section = "Imports";

    /// <summary>The largest file taken, in bytes (a larger one is refused with 413 naming <c>file</c>); 64 MiB by default.</summary>
    public long MaxBytes { get; set; } = 64L * 1024 * 1024;
}
