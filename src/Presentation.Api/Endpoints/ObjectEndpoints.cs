using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Transcripts;
using MeatLizard.Infrastructure.ObjectStorage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MeatLizard.Presentation.Api.Endpoints;

public static class ObjectEndpoints
{
    /// <summary>
    /// The file-system store's download route: the signed link is the only credential. With the S3 store links point
    /// at S3 itself and this route answers 404.
    /// </summary>
    public static RouteGroupBuilder MapObjectEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/objects/download", Download).WithTags("Objects").AllowAnonymous()
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .ProducesProblem(StatusCodes.Status403Forbidden);
        return api;
    }

    private static async Task<Results<FileStreamHttpResult, NotFound, ProblemHttpResult>> Download(
        string? key, string? name, long? expires, string? signature, IServiceProvider services, IObjectStore store,
        CancellationToken ct)
    {
        if (services.GetService<FileSystemObjectLinks>() is not { } links)
        {
            return TypedResults.NotFound();
        }

        if (key is null || name is null || expires is null || signature is null
            || !links.IsValid(key, name, expires.Value, signature))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "This download link is invalid or has expired.");
        }

        var content = await store.GetAsync(key, ct);
        return content is null
            ? TypedResults.NotFound()
            : TypedResults.Stream(content, ContentTypeOf(key), fileDownloadName: name);
    }

    private static string ContentTypeOf(string key) => Path.GetExtension(key) switch
    {
        ".json" => "application/json; charset=utf-8",
        ".csv" => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    };
}

/// <summary>Links the file-system store makes are relative to the API; a client needs them whole.</summary>
public static class DownloadLinks
{
    public static StoredTranscriptDto Absolute(StoredTranscriptDto stored, HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(request);
        var origin = $"{request.Scheme}://{request.Host}{request.PathBase}";
        return stored with { JsonUrl = Absolute(stored.JsonUrl, origin), CsvUrl = Absolute(stored.CsvUrl, origin) };
    }

    private static string Absolute(string url, string origin) =>
        url.StartsWith('/') ? origin + url : url;
}
