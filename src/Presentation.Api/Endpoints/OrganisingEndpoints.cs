using MediatR;
using MeatLizard.Application.Chats.Organising;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>Pins or unpins a chat.</summary>
public sealed record PinRequest(bool Pinned);

/// <summary>Archives a chat or brings it back to the list.</summary>
public sealed record ArchiveRequest(bool Archived);

/// <summary>The folder a chat goes into; null takes it out of any.</summary>
public sealed record FolderPlaceRequest(Guid? FolderId);

public sealed record FolderRequest(string? Name);

public sealed record DeleteChatsRequest(IReadOnlyList<Guid>? Ids);

/// <summary>How a user keeps their chats: pins, the archive, folders, deleting several at once. Owner only.</summary>
public static class OrganisingEndpoints
{
    public static RouteGroupBuilder MapOrganisingEndpoints(this RouteGroupBuilder api)
    {
        var chats = api.MapGroup("/sessions").WithTags("Organising").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound);
        chats.MapPut("/{id:guid}/pin", async (Guid id, PinRequest body, IMediator mediator, CancellationToken ct) =>
            {
                await mediator.Send(new PinChat(id, body.Pinned), ct);
                return TypedResults.NoContent();
            })
            .WithDescription("Pinned chats come first in the list. Changes nothing else of the chat (its place by date stays).");
        chats.MapPut("/{id:guid}/archive", async (Guid id, ArchiveRequest body, IMediator mediator, CancellationToken ct) =>
            {
                await mediator.Send(new ArchiveChat(id, body.Archived), ct);
                return TypedResults.NoContent();
            })
            .WithDescription("An archived chat is kept but left out of GET /sessions; GET /sessions?archived=true lists it.");
        chats.MapPut("/{id:guid}/folder", async (Guid id, FolderPlaceRequest body, IMediator mediator, CancellationToken ct) =>
            {
                await mediator.Send(new MoveChatToFolder(id, body.FolderId), ct);
                return TypedResults.NoContent();
            })
            .WithDescription("Puts the chat in one of the caller's folders (a chat is in one at most), or out with null. " +
                             "404 naming folderId for a folder not the caller's.");
        chats.MapPost("/delete", async (DeleteChatsRequest body, IMediator mediator, CancellationToken ct) =>
                TypedResults.Ok(await mediator.Send(new DeleteChats(body.Ids), ct)))
            .WithDescription($"Deletes the chats for good, with their messages, share links and stored transcripts, all " +
                             $"in one transaction: up to {DeleteChats.MaxChats} ids, all the caller's, or a 404 naming " +
                             "ids and nothing is deleted.");

        var folders = api.MapGroup("/folders").WithTags("Organising").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        folders.MapGet("/", async (IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListFolders(), ct)));
        folders.MapPost("/", async (FolderRequest body, IMediator mediator, CancellationToken ct) =>
            {
                var folder = await mediator.Send(new CreateFolder(body.Name), ct);
                return TypedResults.Created($"/api/v1/folders/{folder.Id}", folder);
            })
            .WithDescription("A new folder; 409 naming name when the caller has one of that name (ignoring case).");
        folders.MapPatch("/{id:guid}", async (Guid id, FolderRequest body, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new RenameFolder(id, body.Name), ct)));
        folders.MapDelete("/{id:guid}", async (Guid id, IMediator mediator, CancellationToken ct) =>
            {
                await mediator.Send(new DeleteFolder(id), ct);
                return TypedResults.NoContent();
            })
            .WithDescription("Deletes the folder; its chats are kept, in no folder.");
        return api;
    }
}
