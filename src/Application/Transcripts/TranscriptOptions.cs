namespace MeatLizard.Application.Transcripts;

/// <summary>Section "Transcripts".</summary>
public sealed class TranscriptOptions
{
    public const string Section = "Transcripts";

    /// <summary>Write the transcript to the object store when a chat is closed.</summary>
    public bool StoreOnClose { get; set; } = true;

    /// <summary>How long a download link works (S3 allows at most 7 days).</summary>
    public TimeSpan LinkLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Stored transcripts older than this are deleted by a periodic sweep; 00:00:00 keeps them forever.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the sweep looks for transcripts past <see cref="Retention"/>.</summary>
    public TimeSpan RetentionSweepInterval { get; set; } = TimeSpan.FromHours(1);
}
