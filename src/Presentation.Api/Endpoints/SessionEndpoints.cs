using System.Globalization;
using System.Text;
using MediatR;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Sessions.Commands;
using MeatLizard.Application.Sessions.Queries;
using Microsoft.AspNetCore.Mvc;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record SessionSettingsRequest(
    string? Title, string? Model, string? SystemPrompt, double? Temperature, double? TopP, int? MaxTokens);

public sealed record SendMessageRequest(string? Content, double? Temperature, double? TopP, int? MaxTokens);

public static class SessionEndpoints
{
    public static RouteGroupBuilder MapSessionEndpoints(this RouteGroupBuilder api)
    {
        var sessions = api.MapGroup("/sessions").WithTags("Sessions").RequireAuthorization();
        sessions.MapGet("/", async (IMediator mediator, CancellationToken ct) =>
            Results.Ok(await mediator.Send(new ListSessions(), ct)));
        sessions.MapPost("/", async (SessionSettingsRequest? body, IMediator mediator, CancellationToken ct) =>
        {
            var s = body ?? new SessionSettingsRequest(null, null, null, null, null, null);
            var session = await mediator.Send(
                new CreateSession(s.Title, s.Model, s.SystemPrompt, s.Temperature, s.TopP, s.MaxTokens), ct);
            return Results.Created($"/api/v1/sessions/{session.Id}", session);
        });
        sessions.MapGet("/{id:guid}", async (Guid id, IMediator mediator, CancellationToken ct) =>
            Results.Ok(await mediator.Send(new GetSession(id), ct)));
        sessions.MapPatch("/{id:guid}", async (Guid id, SessionSettingsRequest body, IMediator mediator, CancellationToken ct) =>
            Results.Ok(await mediator.Send(
                new UpdateSession(id, body.Title, body.Model, body.SystemPrompt, body.Temperature, body.TopP, body.MaxTokens), ct)));
        sessions.MapDelete("/{id:guid}", async (Guid id, IMediator mediator, CancellationToken ct) =>
        {
            await mediator.Send(new CloseSession(id), ct);
            return Results.NoContent();
        });
        sessions.MapPost("/{id:guid}/send", Send);
        sessions.MapPost("/{id:guid}/cancel", async (Guid id, IMediator mediator, CancellationToken ct) =>
            Results.Ok(await mediator.Send(new CancelGeneration(id), ct)));
        sessions.MapGet("/{id:guid}/messages", async (Guid id, Guid? before, int? limit, IMediator mediator, CancellationToken ct) =>
            Results.Ok(await mediator.Send(new GetMessages(id, before, limit ?? GetMessages.DefaultLimit), ct)));
        sessions.MapGet("/{id:guid}/transcript", Transcript);
        return api;
    }

    /// <summary>202 with the ids, or with <c>?wait=true</c> 200 with the answer once it exists.</summary>
    private static async Task<IResult> Send(
        Guid id, SendMessageRequest body, bool? wait, IMediator mediator, CancellationToken ct)
    {
        var sent = await mediator.Send(new SendMessage(id, body.Content, body.Temperature, body.TopP, body.MaxTokens), ct);
        if (wait != true)
        {
            return Results.Accepted($"/api/v1/sessions/{id}/messages", sent);
        }

        return Results.Ok(await mediator.Send(new WaitForAnswer(id, sent.RequestId), ct));
    }

    private static async Task<IResult> Transcript(Guid id, string? format, IMediator mediator, CancellationToken ct)
    {
        var kind = (format ?? "json").ToLowerInvariant();
        if (kind is not ("json" or "csv"))
        {
            return Results.ValidationProblem(
                new Dictionary<string, string[]> { ["format"] = ["format is json or csv."] },
                title: "Invalid request");
        }

        var transcript = await mediator.Send(new GetTranscript(id), ct);
        var name = $"meatlizard-{id}";
        if (kind == "json")
        {
            return Results.Json(transcript);
        }

        return Results.File(Encoding.UTF8.GetBytes(TranscriptCsv.Write(transcript)), "text/csv; charset=utf-8", $"{name}.csv");
    }
}

/// <summary>RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with a quote.</summary>
public static class TranscriptCsv
{
    public static string Write(TranscriptDto transcript)
    {
        var csv = new StringBuilder("id,createdAt,role,source,content,promptTokens,completionTokens\r\n");
        foreach (var m in transcript.Messages)
        {
            csv.Append(m.Id).Append(',')
                .Append(m.CreatedAt.ToString("O", CultureInfo.InvariantCulture)).Append(',')
                .Append(m.Role).Append(',')
                .Append(m.Source).Append(',')
                .Append(Cell(m.Content)).Append(',')
                .Append(m.Tokens?.Prompt.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(m.Tokens?.Completion.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        return csv.ToString();
    }

    private static string Cell(string value)
    {
        var safe = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value;
        return safe.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + safe.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : safe;
    }
}
