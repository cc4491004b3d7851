namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>Why a Discord message was not taken as a relay packet.</summary>
public enum IgnoredMessageReason
{
    /// <summary>Written by someone the bot does not read (a person, a bot the server bot does not list, a webhook).</summary>
    ForeignAuthor,

    /// <summary>
    /// Seen by a client bot: another client bot's message in a relay channel that lets it in (the channels are shared by
    /// every host). Expected traffic: counted, logged at Debug only.
    /// </summary>
    OtherRelayBot,

    /// <summary>In a channel that is neither a session channel under our category nor the control channel.</summary>
    ForeignChannel,

    /// <summary>Neither <c>ML1.</c> text nor an envelope file.</summary>
    NotAnEnvelope,

    /// <summary>An envelope file that could not be fetched or was too large.</summary>
    BadAttachment,
}
