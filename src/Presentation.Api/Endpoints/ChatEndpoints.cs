using System.Text;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Application.Chats.Queries;
using MeatLizard.Application.Transcripts;
using MeatLizard.Application.Transcripts.Commands;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using MeatLizard.Presentation.Api.Web;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record SessionSettingsRequest(
    string? Title, string? Model, string? SystemPrompt, double? Temperature, double? TopP, int? MaxTokens);

/// <summary>A new chat's settings.</summary>
/// <param name="PersonaId">
/// A persona (GET /api/v1/personas) whose system prompt, model and temperature the chat starts with; what this body
/// names itself wins. Unset fields come from the user's defaults (GET /api/v1/auth/preferences), then the platform's.
/// </param>
public sealed record NewSessionRequest(
    string? Title, string? Model, string? SystemPrompt, double? Temperature, double? TopP, int? MaxTokens,
    Guid? PersonaId = null);

/// <summary>DELETE's answer when the transcript was stored on close.</summary>
public sealed record ClosedSessionResponse(StoredTranscriptDto Transcript);

/// <summary>A question for the chat's model; <c>Images</c>: data: URLs (see the operation's description).</summary>
public sealed record SendMessageRequest(
    string? Content, double? Temperature, double? TopP, int? MaxTokens, IReadOnlyList<string?>? Images = null);

public static class ChatEndpoints
{
    public static RouteGroupBuilder MapSessionEndpoints(this RouteGroupBuilder api)
    {
        var sessions = api.MapGroup("/sessions").WithTags("Sessions").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        sessions.MapGet("/", async (bool? archived, IMediator mediator, CancellationToken ct) =>
                TypedResults.Ok(await mediator.Send(new ListChats(archived == true), ct)))
            .WithDescription("The caller's chats: pinned first, then by their newest message. Archived chats are left " +
                             "out; with archived=true only they are listed.");
        sessions.MapPost("/", async (NewSessionRequest? body, IMediator mediator, CancellationToken ct) =>
        {
            var s = body ?? new NewSessionRequest(null, null, null, null, null, null);
            var chat = await mediator.Send(
                new CreateChat(s.Title, s.Model, s.SystemPrompt, s.Temperature, s.TopP, s.MaxTokens, s.PersonaId), ct);
            return TypedResults.Created($"/api/v1/sessions/{chat.Id}", chat);
        });
        sessions.MapGet("/{id:guid}", async (Guid id, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new GetChat(id), ct)));
        sessions.MapPatch("/{id:guid}", async (Guid id, SessionSettingsRequest body, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(
                new UpdateChat(id, body.Title, body.Model, body.SystemPrompt, body.Temperature, body.TopP, body.MaxTokens), ct)));
        sessions.MapDelete("/{id:guid}", async Task<Results<Ok<ClosedSessionResponse>, NoContent>> (
            Guid id, HttpRequest http, IMediator mediator, CancellationToken ct) =>
            await mediator.Send(new CloseChat(id), ct) is { Transcript: { } stored }
                ? TypedResults.Ok(new ClosedSessionResponse(DownloadLinks.Absolute(stored, http)))
                : TypedResults.NoContent());
        // The body may hold images, base64: room for them beyond their cap, which refuses more naming the image.
        sessions.MapPost("/{id:guid}/send", Send)
            .WithMetadata(new RequestSizeLimitAttribute(OpenAi.OpenAiEndpoints.MaxChatBodyBytes))
            .WithDescription("Asks the chat's model a question: 202 with the ids, or with wait=true 200 with the answer. " +
                             "images: data: URLs (data:image/png;base64,...) of PNG, JPEG, WebP or GIF, the type read from " +
                             "the bytes, at most 4 of 5 MB together by default (the caps of /v1, Api:OpenAi); remote URLs " +
                             "are refused. A refused image is a 400 naming it (images[0]), as is asking a model no online " +
                             "host takes images with. Each is kept with the message: its images[].name, served by " +
                             "GET /api/v1/sessions/{id}/images/{name}.");
        sessions.MapPost("/{id:guid}/cancel", async (Guid id, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new CancelGeneration(id), ct)));
        sessions.MapGet("/{id:guid}/messages", async (Guid id, Guid? before, int? limit, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new GetMessages(id, before, limit ?? GetMessages.DefaultLimit), ct)));
        sessions.MapGet("/{id:guid}/images/{name}", async (Guid id, string name, IMediator mediator, CancellationToken ct) =>
            {
                var image = await mediator.Send(new GetChatImage(id, name), ct);
                return TypedResults.File(image.Data, image.MediaType);
            })
            .Produces(StatusCodes.Status200OK, contentType: "image/png", additionalContentTypes: ["image/jpeg", "image/webp", "image/gif"])
            .WithDescription("An image of one of the chat's messages, by the name its message gives (images[].name).");
        sessions.MapPost("/{id:guid}/messages/{messageId:guid}/select", async (Guid id, Guid messageId, IMediator mediator,
                CancellationToken ct) => TypedResults.Ok(await mediator.Send(new SelectVersion(id, messageId), ct)))
            .WithDescription("Shows this version of its turn: the chat's current path runs through it and on through the " +
                             "newest version of each later turn. Answers the new path's newest page; 409 while answering.");
        // One 200 per operation in OpenAPI: the default answer's schema; the CSV and stored forms are described in words.
        sessions.MapGet("/{id:guid}/transcript", Transcript)
            .Produces<TranscriptDto>(StatusCodes.Status200OK)
            .WithDescription("The transcript (the chat's current path) as JSON; with all=true every message of the chat's " +
                             "tree, each with its parentId; with format=csv as a text/csv file; with store=true stored in " +
                             "the object store and answered with its download links (StoredTranscriptDto).");
        return api;
    }

    /// <summary>202 with the ids, or with <c>?wait=true</c> 200 with the answer once it exists.</summary>
    private static Task<Results<Accepted<SendMessageResult>, Ok<MessageDto>>> Send(
        Guid id, SendMessageRequest body, bool? wait, IMediator mediator, IChatEvents events, UserConcurrency concurrency,
        CancellationToken ct) =>
        Asking.RespondAsync(id, wait,
            c => mediator.Send(new SendMessage(id, body.Content, body.Temperature, body.TopP, body.MaxTokens, body.Images), c),
            mediator, events, concurrency, ct);

    /// <summary>The transcript itself, or with <c>?store=true</c> stored in the object store and answered with download links.</summary>
    private static async Task<Results<Ok<StoredTranscriptDto>, JsonHttpResult<TranscriptDto>, FileContentHttpResult,
        ProblemHttpResult>> Transcript(
        Guid id, string? format, bool? store, bool? all, HttpRequest http, IMediator mediator, CancellationToken ct)
    {
        if (store == true)
        {
            return TypedResults.Ok(DownloadLinks.Absolute(await mediator.Send(new StoreTranscript(id), ct), http));
        }

        var kind = (format ?? "json").ToLowerInvariant();
        if (kind is not ("json" or "csv"))
        {
            // What Results.ValidationProblem answers: a 400 problem written by the ProblemDetails service.
            return TypedResults.Problem(new HttpValidationProblemDetails(
                new Dictionary<string, string[]> { ["format"] = ["format is json or csv."] }) { Title = "Invalid request" });
        }

        var transcript = await mediator.Send(new GetTranscript(id, all == true), ct);
        var name = $"meatlizard-{id}";
        if (kind == "json")
        {
            return TypedResults.Json(transcript);
        }

        return TypedResults.File(Encoding.UTF8.GetBytes(TranscriptCsv.Write(transcript)), "text/csv; charset=utf-8", $"{name}.csv");
    }
}
