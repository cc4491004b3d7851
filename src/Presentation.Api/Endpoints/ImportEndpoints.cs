using MediatR;
using MeatLizard.Application.Imports;
using MeatLizard.Domain.Common;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>Imports: an export file's conversations become the caller's chats.</summary>
public static class ImportEndpoints
{
    private static readonly SemaphoreSlim s_importing = new(2);

    public static RouteGroupBuilder MapImportEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/imports", async (HttpRequest http, IOptions<ImportOptions> options, IMediator mediator,
                CancellationToken ct) =>
            {
                // A file up to Imports:MaxBytes is held whole, and parsed: two at a time per process, so a few users
                // importing at once cannot take the API's memory; the others wait their turn.
                await s_importing.WaitAsync(ct);
                try
                {
                    return TypedResults.Ok(await mediator.Send(
                        new ImportChats(await ReadCappedAsync(http, options.Value.MaxBytes, ct)), ct));
                }
                finally
                {
                    s_importing.Release();
                }
            })
            .Accepts<object>("application/json")
            .WithTags("Imports").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status413PayloadTooLarge)
            .WithDescription("The body is an export file as it was downloaded: ChatGPT's conversations.json, or " +
                             "MeatLizard's account export (GET /api/v1/auth/export) or chat transcript. Each " +
                             "conversation becomes a chat (title, times, messages, every version of an edited or " +
                             "regenerated turn, the current path), in its own transaction; the answer reports each: " +
                             "imported, skipped (imported before: importing a file again is safe) or failed, and what " +
                             "was left out (images, tool and system messages). 400 naming file when it is no such " +
                             "export; 413 naming file above Imports:MaxBytes.");
        return api;
    }

    /// <summary>
    /// The whole body, refused with a 413 naming <c>file</c> when it passes <paramref name="max"/> bytes. A body up to
    /// twice the cap is still read to its end (and dropped) so the client, still sending, gets the 413 rather than a
    /// closed connection; a larger one is cut off.
    /// </summary>
    private static async Task<ReadOnlyMemory<byte>> ReadCappedAsync(HttpRequest http, long max, CancellationToken ct)
    {
        var tooLarge = new DomainException($"The file is larger than the {max / (1024 * 1024.0):0.#} MiB an import takes.",
            DomainErrorKind.TooLarge, "file");
        var readable = max * 2;
        if (http.ContentLength > readable)
        {
            throw tooLarge;
        }

        // This call's own cap instead of the host's (far smaller) one for every request.
        if (http.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = readable;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await http.Body.ReadAsync(chunk, ct)) > 0)
        {
            total += read;
            if (total <= max)
            {
                buffer.Write(chunk, 0, read);
            }
        }

        return total > max ? throw tooLarge : buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }
}
