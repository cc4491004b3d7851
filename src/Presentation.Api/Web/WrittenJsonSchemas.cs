using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Makes the OpenAPI schemas say what the API writes, so a client generated from them types real answers: the JSON
/// options leave out null properties (<c>WhenWritingNull</c>), so a nullable property is optional, not required; and
/// numbers are written as numbers, so a numeric property is a number (the web defaults also read numbers given as
/// strings, which a generator would otherwise type as <c>number | string</c> everywhere). A document transformer, so
/// it sees the final schemas (a nullable object property only becomes <c>oneOf [null, $ref]</c> at the end).
/// </summary>
internal static class WrittenJsonSchemas
{
    public static Task DescribeAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        foreach (var schema in document.Components?.Schemas?.Values ?? [])
        {
            Describe(schema);
        }

        return Task.CompletedTask;
    }

    private static void Describe(IOpenApiSchema described)
    {
        if (described is not OpenApiSchema schema)
        {
            return; // a reference: its target is described where it is defined
        }

        if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0
                                    && type.HasFlag(JsonSchemaType.String))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        foreach (var (name, property) in schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            if (IsNullable(property))
            {
                schema.Required?.Remove(name);
            }

            Describe(property);
        }

        if (schema.Items is { } items)
        {
            Describe(items);
        }

        foreach (var alternative in schema.OneOf ?? [])
        {
            Describe(alternative);
        }
    }

    private static bool IsNullable(IOpenApiSchema schema) =>
        schema.Type?.HasFlag(JsonSchemaType.Null) == true
        || schema.OneOf?.Any(s => s.Type == JsonSchemaType.Null) == true;
}
