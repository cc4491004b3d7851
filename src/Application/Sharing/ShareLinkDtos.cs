using System.Security.Cryptography;
using System.Text;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Sharing;

/// <summary>A working share link as its owner sees it (the token is shown once, when it is made).</summary>
public sealed record ShareLinkDto(
    Guid Id, Guid ChatId, string Title, Guid UpToMessageId, int Messages, DateTimeOffset CreatedAt);

/// <summary>A new link: its token, shown this once, and the page path that opens it (<c>/s/{token}</c>).</summary>
public sealed record CreatedShareLinkDto(
    Guid Id, Guid ChatId, string Token, string Path, Guid UpToMessageId, int Messages, DateTimeOffset CreatedAt);

/// <summary>What a share link shows, to anyone: the chat's title and its messages as they were when it was made.</summary>
public sealed record SharedChatDto(string Title, DateTimeOffset SharedAt, IReadOnlyList<SharedMessageDto> Messages);

/// <summary>
/// One message of a shared chat: who wrote it (role, source: user, model, fallback, notice), the model's name, its
/// images (each served by <c>GET /api/v1/shared/{token}/images/{name}</c>).
/// </summary>
public sealed record SharedMessageDto(string Role, string Content, string Source, string? Model, DateTimeOffset CreatedAt)
{
    public IReadOnlyList<ImageDto>? Images { get; init; }
}

/// <summary>The chat (and its owner) whose image a share link shows.</summary>
public sealed record SharedImageSource(UserId OwnerId, ChatId ChatId);

/// <summary>Share tokens: 32 random bytes, base64url (a link as it is), stored as their SHA-256.</summary>
public static class ShareTokens
{
    public static string New() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Tokens are 43 characters; anything empty or much longer is not one, and is not hashed.</summary>
    public static bool IsPlausible(string? token) => !string.IsNullOrEmpty(token) && token.Length <= 100;

    public static string Hash(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }
}
