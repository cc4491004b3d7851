namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>Why a Discord message was not taken as a relay packet.</summary>
public enum IgnoredMessageReason
{
    /// <summary>Written by someone other than the other bot (a person, a third bot, a webhook).</summary>
    ForeignAuthor,

    /// <summary>In a channel that is neither a session channel under our category nor the control channel.</summary>
    ForeignChannel,

    /// <summary>Neither <c>ML1.</c> text nor an envelope file.</summary>
    NotAnEnvelope,

    /// <summary>An envelope file that could not be fetched or was too large.</summary>
    BadAttachment,
}
