namespace MeatLizard.Application.Transcripts;

/// <summary>Section "Transcripts".</summary>
public sealed class TranscriptOptions
{
    public const string Section = "Transcripts";

    /// <summary>Write the transcript to the object store when a chat is closed.</summary>
    public bool StoreOnClose { get; set; } = true;

    /// <summary>How long a download link works (S3 allows at most 7 days).</summary>
    public TimeSpan LinkLifetime { get; set; } = TimeSpan.FromHours(24);
}
