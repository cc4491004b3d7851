using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Each ProblemDetails answer (400, 401, 403, …) is the same for every operation, so the OpenAPI document declares it
/// once under <c>components/responses</c> and every operation refers to it, instead of repeating it inline.
/// </summary>
internal static class SharedProblemResponses
{
    private const string ProblemJson = "application/problem+json";

    public static Task ShareAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.Responses ??= new Dictionary<string, IOpenApiResponse>();
        var operations = document.Paths?.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []) ?? [];
        foreach (var operation in operations)
        {
            foreach (var (status, response) in operation.Responses?.ToList() ?? [])
            {
                if (response is OpenApiResponse { Content: { Count: 1 } content } && content.ContainsKey(ProblemJson))
                {
                    var name = $"Problem{status}";
                    document.Components.Responses.TryAdd(name, response);
                    operation.Responses![status] = new OpenApiResponseReference(name, document);
                }
            }
        }

        return Task.CompletedTask;
    }
}
