using System.Text.Json;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// A message's images as the <c>messages.images</c> column holds them: NULL when it holds none, else a JSON array of
/// their references (the bytes are in the object store).
/// </summary>
internal static class ImagesJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static string? Write(IReadOnlyList<MessageImage> images) =>
        images.Count == 0 ? null : JsonSerializer.Serialize(images, Options);

    public static IReadOnlyList<MessageImage> Read(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize<MessageImage[]>(json, Options) ?? [];
}
