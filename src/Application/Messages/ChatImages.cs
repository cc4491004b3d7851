using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Messages;

/// <summary>
/// The images of users' messages in the object store, under <c>images/{owner}/{chat}/</c> (deleted with the chat or the
/// account, <see cref="Auth.ErasedAccountObjects"/>); the database keeps only their references
/// (<see cref="Message.Images"/>).
/// </summary>
public sealed class ChatImages(IObjectStore store)
{
    public const string Prefix = "images/";

    public static string PrefixOf(UserId owner) => $"{Prefix}{owner.Value:D}/";

    public static string PrefixOf(UserId owner, ChatId chat) => $"{PrefixOf(owner)}{chat.Value:D}/";

    /// <summary>An image's name in its chat: the last part of its key.</summary>
    public static string NameOf(string key) => key[(key.LastIndexOf('/') + 1)..];

    /// <summary>
    /// The key of the image <paramref name="name"/> of <paramref name="owner"/>'s chat; null when the name is not one this
    /// store gives (32 hex digits and an image extension), so no other object can be named.
    /// </summary>
    public static string? KeyOf(UserId owner, ChatId chat, string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, "^[0-9a-f]{32}\\.(png|jpg|webp|gif)$")
            ? PrefixOf(owner, chat) + name
            : null;

    /// <summary><paramref name="messages"/> with each image's bytes (as a <c>data:</c> URL), for an export.</summary>
    public async Task<IReadOnlyList<MessageDto>> WithBytesAsync(UserId owner, ChatId chat,
        IReadOnlyList<MessageDto> messages, CancellationToken cancellationToken)
    {
        if (!messages.Any(m => m.Images is { Count: > 0 }))
        {
            return messages;
        }

        var withBytes = new List<MessageDto>(messages.Count);
        foreach (var message in messages)
        {
            if (message.Images is not { Count: > 0 } images)
            {
                withBytes.Add(message);
                continue;
            }

            var filled = new List<ImageDto>(images.Count);
            foreach (var image in images)
            {
                var data = KeyOf(owner, chat, image.Name) is { } key ? await ReadAsync(key, cancellationToken) : null;
                filled.Add(data is null ? image : image with { DataUrl = TurnImage.Inline(image.MediaType, data).DataUrl });
            }

            withBytes.Add(message with { Images = filled });
        }

        return withBytes;
    }

    /// <summary>Keeps <paramref name="images"/> (bytes and what they are) for a message of <paramref name="owner"/>'s chat.</summary>
    public async Task<IReadOnlyList<MessageImage>> KeepAsync(UserId owner, ChatId chat,
        IReadOnlyList<(byte[] Data, ImageHeader Header)> images, CancellationToken cancellationToken)
    {
        var kept = new List<MessageImage>(images.Count);
        try
        {
            foreach (var (data, header) in images)
            {
                var key = $"{PrefixOf(owner, chat)}{Guid.NewGuid():N}.{ImageHeader.Extension(header.MediaType)}";
                using var content = new MemoryStream(data, writable: false);
                await store.PutAsync(key, content, header.MediaType, cancellationToken);
                kept.Add(new MessageImage(key, header.MediaType, data.Length, header.Width, header.Height)
                {
                    Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)),
                });
            }

            return kept;
        }
        catch
        {
            await ForgetAsync(kept, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Deletes images kept for a question that was then refused (nothing refers to them).</summary>
    public async Task ForgetAsync(IReadOnlyList<MessageImage> images, CancellationToken cancellationToken)
    {
        foreach (var image in images)
        {
            try
            {
                await store.DeleteAsync(image.Key, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Left under the chat's prefix: deleted with the chat or the account.
            }
        }
    }

    /// <summary>
    /// Deletes every image kept under <paramref name="owner"/>'s chat <paramref name="chat"/>: for a chat deleted without
    /// the note that has its objects swept (one that kept nothing, <c>store: false</c>). A store that fails leaves them.
    /// </summary>
    public async Task ForgetChatAsync(UserId owner, ChatId chat, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var key in store.ListAsync(PrefixOf(owner, chat), cancellationToken))
        {
            keys.Add(key);
        }

        foreach (var key in keys)
        {
            await store.DeleteAsync(key, cancellationToken);
        }
    }

    /// <summary>
    /// The SHA-256 (lower-case hex) of the image <paramref name="image"/> of <paramref name="owner"/>'s chat: as recorded,
    /// else (an image kept before hashes were) of its bytes as the store holds them; null when the store holds none.
    /// </summary>
    public async Task<string?> Sha256Async(UserId owner, ChatId chat, ImageDto image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Sha256 is { } recorded)
        {
            return recorded;
        }

        return KeyOf(owner, chat, image.Name) is { } key && await ReadAsync(key, cancellationToken) is { } data
            ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data))
            : null;
    }

    /// <summary>
    /// The image <paramref name="name"/> of <paramref name="owner"/>'s chat, bytes and media type (read from its bytes);
    /// null when the name is not one this store gives or the store holds no such image.
    /// </summary>
    public async Task<ChatImage?> FindAsync(UserId owner, ChatId chat, string name, CancellationToken cancellationToken) =>
        KeyOf(owner, chat, name) is { } key && await ReadAsync(key, cancellationToken) is { } data
                                            && ImageHeader.Read(data) is { } header
            ? new ChatImage(data, header.MediaType)
            : null;

    /// <summary>An image's bytes; null when the store no longer holds it.</summary>
    public async Task<byte[]?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        await using var stream = await store.GetAsync(key, cancellationToken);
        if (stream is null)
        {
            return null;
        }

        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, cancellationToken);
        return copy.ToArray();
    }

    /// <summary>
    /// <paramref name="turns"/> with each kept image as its bytes (a <c>data:</c> URL), as the host is sent them; an image
    /// the store no longer holds is left out.
    /// </summary>
    public async Task<IReadOnlyList<ChatTurn>> InlineAsync(IReadOnlyList<ChatTurn> turns, CancellationToken cancellationToken)
    {
        if (!turns.Any(t => t.Images is { Count: > 0 }))
        {
            return turns;
        }

        var inlined = new List<ChatTurn>(turns.Count);
        foreach (var turn in turns)
        {
            if (turn.Images is not { Count: > 0 } images)
            {
                inlined.Add(turn);
                continue;
            }

            var inline = new List<TurnImage>(images.Count);
            foreach (var image in images)
            {
                if (image.DataUrl is not null)
                {
                    inline.Add(image);
                }
                else if (image.Key is { } key && await ReadAsync(key, cancellationToken) is { } data)
                {
                    inline.Add(TurnImage.Inline(image.MediaType, data));
                }
            }

            inlined.Add(turn with { Images = inline });
        }

        return inlined;
    }
}

/// <summary>An image's bytes and media type.</summary>
public sealed record ChatImage(byte[] Data, string MediaType);
