using System.Net.WebSockets;
using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Sessions.Queries;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>
/// A session's live events — <c>delta</c>, <c>message</c>, <c>status</c>, <c>error</c> — over WebSocket, or as
/// server-sent events when the client asks with <c>Accept: text/event-stream</c>. The first event describes the
/// generation in progress, if any (text so far and its last <c>seq</c>), so a client that reconnects continues
/// where it was without losing or repeating anything.
/// </summary>
public static class StreamEndpoints
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static RouteGroupBuilder MapStreamEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/sessions/{id:guid}/stream", Stream).WithTags("Sessions").RequireAuthorization();
        return api;
    }

    private static async Task<IResult> Stream(
        Guid id, HttpContext context, IMediator mediator, IChatEvents events, IOptions<JsonOptions> json)
    {
        var ct = context.RequestAborted;
        await mediator.Send(new GetSession(id), ct); // 404 for a session that is not the caller's

        var isSse = context.Request.Headers.Accept.Any(a => a?.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase) == true);
        if (!context.WebSockets.IsWebSocketRequest && !isSse)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request",
                detail: "Open this URL as a WebSocket, or ask for 'Accept: text/event-stream'.");
        }

        // Subscribe before taking the snapshot, so nothing falls in between; seq numbers drop the overlap.
        await using var subscription = await events.SubscribeAsync(id, ct);
        var snapshot = await mediator.Send(new GetGenerationSnapshot(id), ct);
        var options = json.Value.SerializerOptions;
        if (context.WebSockets.IsWebSocketRequest)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync(
                new WebSocketAcceptContext { KeepAliveInterval = KeepAlive });
            await PumpWebSocketAsync(socket, subscription, snapshot, options, ct);
        }
        else
        {
            await PumpServerSentEventsAsync(context.Response, subscription, snapshot, options, ct);
        }

        return Results.Empty;
    }

    private static async Task PumpWebSocketAsync(WebSocket socket, IChatEventSubscription subscription,
        ChatEvent? snapshot, JsonSerializerOptions options, CancellationToken requestAborted)
    {
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        var reader = Task.Run(async () =>
        {
            // Nothing is expected from the client; reading notices when it closes.
            var buffer = new byte[1024];
            try
            {
                while (socket.State == WebSocketState.Open)
                {
                    var received = await socket.ReceiveAsync(buffer, closed.Token);
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
            finally
            {
                await closed.CancelAsync();
            }
        }, CancellationToken.None);

        try
        {
            if (snapshot is not null)
            {
                await SendAsync(socket, snapshot, options, closed.Token);
            }

            await foreach (var chatEvent in subscription.ReadAllAsync(closed.Token))
            {
                await SendAsync(socket, chatEvent, options, closed.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }

        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }

        await reader;
    }

    private static Task SendAsync(WebSocket socket, ChatEvent chatEvent, JsonSerializerOptions options, CancellationToken ct) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(chatEvent, options), WebSocketMessageType.Text, true, ct);

    private static async Task PumpServerSentEventsAsync(HttpResponse response, IChatEventSubscription subscription,
        ChatEvent? snapshot, JsonSerializerOptions options, CancellationToken ct)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.WriteAsync(": connected\n\n", ct);
        await response.Body.FlushAsync(ct);
        var events = subscription.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        Task<bool>? next = null;
        try
        {
            if (snapshot is not null)
            {
                await WriteEventAsync(response, snapshot, options, ct);
            }

            next = events.MoveNextAsync().AsTask();
            while (true)
            {
                var keepAlive = Task.Delay(KeepAlive, ct);
                if (await Task.WhenAny(next, keepAlive) == keepAlive)
                {
                    await response.WriteAsync(": keep-alive\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    continue;
                }

                if (!await next)
                {
                    break;
                }

                await WriteEventAsync(response, events.Current, options, ct);
                next = events.MoveNextAsync().AsTask();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            // An async iterator refuses to be disposed while a MoveNextAsync is pending (NotSupportedException), which
            // is the case when the client leaves during a keep-alive write: let the pending read end first (the same
            // token cancels it).
            if (next is not null)
            {
                try
                {
                    await next;
                }
                catch (OperationCanceledException)
                {
                }
            }

            await events.DisposeAsync();
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, ChatEvent chatEvent, JsonSerializerOptions options,
        CancellationToken ct)
    {
        await response.WriteAsync($"event: {chatEvent.Type}\ndata: {JsonSerializer.Serialize(chatEvent, options)}\n\n", ct);
        await response.Body.FlushAsync(ct);
    }
}
