using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Puts what a chat's stream carries into the OpenAPI document, which cannot attach it to the stream itself (a
/// WebSocket or an event stream): the <c>ChatEvent</c> schema, its <c>type</c> as the enum of
/// <see cref="ChatEventTypes"/>, and its <c>status</c> as the <c>AnswerStatus</c> enum of <see cref="AnswerStatuses"/> —
/// so the web client reads statuses through its generated types, not string literals of its own.
/// </summary>
internal static class ChatEventSchemas
{
    public static async Task AddAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas["AnswerStatus"] = Enum("Where a request for an answer stands.", AnswerStatuses.All);
        document.Components.Schemas["ChatEventType"] = Enum("What a chat event says.",
            [ChatEventTypes.Delta, ChatEventTypes.Message, ChatEventTypes.Status, ChatEventTypes.Error]);

        var chatEvent = await context.GetOrCreateSchemaAsync(typeof(ChatEvent), null, ct);
        if (chatEvent.Properties is { } properties)
        {
            properties["type"] = new OpenApiSchemaReference("ChatEventType", document);
            properties["status"] = Nullable(new OpenApiSchemaReference("AnswerStatus", document));
            if (document.Components.Schemas.ContainsKey("MessageDto"))
            {
                // The stored message, as the API's other answers give it.
                properties["message"] = Nullable(new OpenApiSchemaReference("MessageDto", document));
            }
        }

        document.Components.Schemas["ChatEvent"] = chatEvent;
    }

    private static OpenApiSchema Nullable(IOpenApiSchema schema) =>
        new() { OneOf = [new OpenApiSchema { Type = JsonSchemaType.Null }, schema] };

    private static OpenApiSchema Enum(string description, IEnumerable<string> values) => new()
    {
        Type = JsonSchemaType.String,
        Description = description,
        Enum = values.Select(value => (JsonNode)JsonValue.Create(value)).ToList(),
    };
}
