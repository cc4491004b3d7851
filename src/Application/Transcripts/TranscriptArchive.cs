using System.Globalization;
using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Chats.Queries;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Transcripts;

/// <summary>Where a stored transcript is and how to download it until <see cref="ExpiresAt"/>.</summary>
public sealed record StoredTranscriptDto(
    Guid SessionId, string JsonKey, string CsvKey, string JsonUrl, string CsvUrl, DateTimeOffset ExpiresAt);

/// <summary>
/// Writes a transcript to the object store as JSON and CSV under <c>transcripts/{userId}/{sessionId}/</c>, named by
/// the time of writing so earlier copies stay, and returns download links. Callers check who may do it: the user's
/// own command (<see cref="Commands.StoreTranscript"/>), closing a chat, or an admin command.
/// </summary>
public sealed class TranscriptArchive(
    IObjectStore store, IObjectLinks links, IChatReadModel reads, IClock clock, IOptions<TranscriptOptions> options)
{
    /// <summary>
    /// Stores <paramref name="chat"/>'s transcript (its current path) as it stands, whoever asks (its owner, an admin, its close): the one
    /// way a chat's transcript is made.
    /// </summary>
    public async Task<StoredTranscriptDto> StoreChatAsync(Domain.Chats.Chat chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        var messages = await reads.GetTranscriptAsync(chat.Id, wholeTree: false, cancellationToken);
        return await StoreAsync(new TranscriptDto(Common.Mapping.DomainToDto.ToDto(chat), messages), chat.OwnerId.Value,
            cancellationToken);
    }

    public const string Prefix = "transcripts/";

    /// <summary>How a stored copy's file name (before its extension) records when it was written, in UTC.</summary>
    public const string StampFormat = "yyyyMMdd'T'HHmmss'.'fff'Z'";

    public async Task<StoredTranscriptDto> StoreAsync(TranscriptDto transcript, Guid ownerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        var chatId = transcript.Session.Id;
        var stamp = clock.UtcNow.ToString(StampFormat, CultureInfo.InvariantCulture);
        var folder = $"{Prefix}{ownerId:D}/{chatId:D}/";
        var jsonKey = $"{folder}{stamp}.json";
        var csvKey = $"{folder}{stamp}.csv";

        using (var json = new MemoryStream(TranscriptJson.Write(transcript), writable: false))
        {
            await store.PutAsync(jsonKey, json, "application/json; charset=utf-8", cancellationToken);
        }

        using (var csv = new MemoryStream(Encoding.UTF8.GetBytes(TranscriptCsv.Write(transcript)), writable: false))
        {
            await store.PutAsync(csvKey, csv, "text/csv; charset=utf-8", cancellationToken);
        }

        var lifetime = options.Value.LinkLifetime;
        var download = $"meatlizard-{chatId:D}-{stamp}";
        var jsonLink = await links.CreateDownloadLinkAsync(jsonKey, download + ".json", lifetime, cancellationToken);
        var csvLink = await links.CreateDownloadLinkAsync(csvKey, download + ".csv", lifetime, cancellationToken);
        return new StoredTranscriptDto(chatId, jsonKey, csvKey, jsonLink.Url, csvLink.Url,
            jsonLink.ExpiresAt < csvLink.ExpiresAt ? jsonLink.ExpiresAt : csvLink.ExpiresAt);
    }
}
