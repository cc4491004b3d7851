namespace MeatLizard.Application.Messages.Caching;

/// <summary>
/// Section "Cache:Answers": the answer cache. Off by default. When on, a deterministic question (temperature 0, or a
/// seed) asked again the same way — same model, same conversation, same options, and by default the same user — is
/// answered from the cache without asking a model host.
/// </summary>
public sealed class AnswerCacheOptions
{
    public const string Section = "Cache:Answers";

    public bool Enabled { get; set; }

    /// <summary>How long an answer is kept (at most <see cref="MaxLifetime"/>).</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(30);

    /// <summary>How many answers are kept at most; past it the oldest go.</summary>
    public int MaxEntries { get; set; } = 10_000;

    public const int MaxMaxEntries = 10_000_000;

    /// <summary>
    /// One user's answer is given to another who asks the same: off by default, so nobody learns from the cache what
    /// someone else asked; an admin turns it on for a platform whose users may share.
    /// </summary>
    public bool SharedAcrossUsers { get; set; }
}
