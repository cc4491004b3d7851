namespace MeatLizard.Application.Common.Exceptions;

/// <summary>
/// The thing asked for does not exist, or the caller may not know it exists (404). Made by the factories below, so each
/// kind of thing is "not found" in one sentence everywhere; another user's chat reads exactly as a missing one.
/// </summary>
public sealed class NotFoundException : Exception
{
    private NotFoundException(string message)
        : base(message)
    {
    }

    public static NotFoundException Chat() => new(MeatLizard.Domain.Chats.Chat.NotFoundMessage);

    /// <summary>For admins, who name chats by id: the id is repeated back.</summary>
    public static NotFoundException Chat(Guid id) => new($"There is no chat with id {id:D}.");

    public static NotFoundException Request() => new("There is no request with this id.");

    public static NotFoundException ApiKey() => new("There is no API key with this id.");

    public static NotFoundException LinkedAccount() => new("No such account is linked to yours.");

    public static NotFoundException User(string? username) => new($"There is no user named {username}.");

    public static NotFoundException UserId(Guid id) => new($"There is no user with id {id:D}.");

    public static NotFoundException Host(Guid id) => new($"No model host with id {id:D} is online.");

    public static NotFoundException Invite() => new("There is no invite with this id.");

    public static NotFoundException HostToken(string name) =>
        new($"Host {name} has no token to revoke.") { Field = "name" };
    public static NotFoundException Image() => new("There is no such image in this chat.") { Field = "name" };

    /// <summary>Unknown or another user's: a folder reads the same in each case.</summary>
    public static NotFoundException Folder(string field = "id") => new("There is no folder with this id.") { Field = field };

    /// <summary>Some of the chats a call names are missing or another user's (which read the same).</summary>
    public static NotFoundException Chats(string field) =>
        new("There is no chat with one of these ids: nothing was changed.") { Field = field };

    /// <summary>Unknown, revoked or never the caller's: a share link reads the same in each case.</summary>
    public static NotFoundException ShareLink() => new("There is no such share link: it may have been revoked.");

    /// <summary>
    /// Not an image of the shared copy: of a later message, of another chat, unknown, or the link revoked, all alike.
    /// </summary>
    public static NotFoundException SharedImage() =>
        new("There is no such image in this shared chat: the link may have been revoked.") { Field = "name" };

    /// <summary>A finished request whose answer row is gone (deleted with its chat meanwhile).</summary>
    public static NotFoundException Answer() => new("The answer message is missing.");

    /// <summary>Unknown, or another user's personal one: the two read the same.</summary>
    public static NotFoundException Persona(string field = "id") =>
        new(MeatLizard.Domain.Personas.Persona.NotFoundMessage) { Field = field };

    /// <summary>A model that neither an online model host serves nor the configuration names.</summary>
    public static NotFoundException Model(string name, IEnumerable<string> known) =>
        new($"The model '{name}' does not exist; the models here are: {string.Join(", ", known)}.") { Field = "model" };

    /// <summary>The input field naming what was not found, when there is one.</summary>
    public string? Field { get; private init; }
}

/// <summary>The request clashes with the current state, e.g. a username already taken (409).</summary>
public sealed class ConflictException(string message, string? field = null) : Exception(message)
{
    public string? Field { get; } = field;

    /// <summary>A chat takes one message at a time: an unfinished request of it refuses the next.</summary>
    public static ConflictException ChatIsAnswering() =>
        new("An answer is still being generated in this chat; wait for it or cancel it first.");
}

/// <summary>The caller is not authenticated, or its credentials are wrong (401).</summary>
public sealed class UnauthenticatedException(string message) : Exception(message);

/// <summary>Too many requests; try again after <see cref="RetryAfter"/> (429).</summary>
public sealed class RateLimitedException(TimeSpan retryAfter, string scope, string? detail = null)
    : Exception(detail ?? $"Too many requests; try again in {Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))} s.")
{
    public TimeSpan RetryAfter { get; } = retryAfter;

    public string Scope { get; } = scope;
}

/// <summary>
/// A part of the platform the request needs is not reachable right now; trying again later may work (503), after
/// <see cref="RetryAfter"/> when it is known.
/// </summary>
public sealed class ServiceUnavailableException(string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
