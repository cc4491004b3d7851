using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Chats.Queries;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>
/// A session's live events — <c>delta</c>, <c>message</c>, <c>status</c>, <c>error</c> — over WebSocket, or as
/// server-sent events when the client asks with <c>Accept: text/event-stream</c>. The first event describes the
/// generation in progress, if any (text so far and its last <c>seq</c>), so a client that reconnects continues
/// where it was without losing or repeating anything. A stream lives only as long as the credential it was opened
/// with: it is checked again every <see cref="CredentialWatch.Recheck"/>, and a ban, a revoked API key or a logout of
/// that sign-in session (at any instance) closes it. A stream whose events may have been lost on the way (Redis away:
/// <see cref="IChatEventSubscription.EventsMissed"/>) closes too, so its client reconnects and reads what is stored.
/// </summary>
public static class StreamEndpoints
{
    /// <summary>WebSocket close status for a stream whose credential ended (4000–4999 are the application's own).</summary>
    public const int CredentialEndedCloseStatus = 4401;

    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static RouteGroupBuilder MapStreamEndpoints(this RouteGroupBuilder api)
    {
        // A WebSocket (101) or an event stream; the events' schema is ChatEvent, which OpenAPI cannot attach to either.
        api.MapGet("/sessions/{id:guid}/stream", Stream).WithTags("Sessions").RequireAuthorization()
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesSignedInProblems(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> Stream(
        Guid id, HttpContext context, IMediator mediator, IChatEvents events, IOptions<JsonOptions> json,
        UserConcurrency concurrency, PlatformMetrics metrics)
    {
        var ct = context.RequestAborted;
        await mediator.Send(new GetChat(id), ct); // 404 for a session that is not the caller's

        var isSse = context.Request.Headers.Accept.Any(a => a?.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase) == true);
        if (!context.WebSockets.IsWebSocketRequest && !isSse)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request",
                detail: "Open this URL as a WebSocket, or ask for 'Accept: text/event-stream'.");
        }

        await using var place = await concurrency.EnterAsync(ConcurrencyScope.OpenStream, ct);

        // Subscribe before taking the snapshot, so nothing falls in between; seq numbers drop the overlap.
        await using var subscription = await events.SubscribeAsync(id, ct);
        var snapshot = await mediator.Send(new GetGenerationSnapshot(id), ct);
        var options = json.Value.SerializerOptions;

        using var open = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var (ended, watch) = CredentialWatch.Start(context, open);
        // Events lost on the way (the bus was away): the stream ends, and its client, reconnecting as after any drop,
        // reads the newest messages — an answer stored meanwhile is not left unseen behind an open stream.
        using var pumping = CancellationTokenSource.CreateLinkedTokenSource(open.Token, subscription.EventsMissed);
        try
        {
            if (context.WebSockets.IsWebSocketRequest)
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync(
                    new WebSocketAcceptContext { KeepAliveInterval = KeepAlive });
                using var counted = metrics.StreamOpened("websocket");
                await PumpWebSocketAsync(socket, subscription, snapshot, options, ct, pumping.Token, () => ended.Ended);
            }
            else
            {
                using var counted = metrics.StreamOpened("sse");
                await PumpServerSentEventsAsync(context.Response, subscription, snapshot, options, pumping.Token);
            }
        }
        finally
        {
            await open.CancelAsync();
            await watch;
        }

        return TypedResults.Empty;
    }

    /// <param name="socket">The accepted WebSocket.</param>
    /// <param name="subscription">The session's events.</param>
    /// <param name="snapshot">The generation in progress, sent first.</param>
    /// <param name="options">JSON options.</param>
    /// <param name="requestAborted">The client went away.</param>
    /// <param name="open">
    /// Linked to <paramref name="requestAborted"/>; also cancelled when the credential ended, or when events may have been
    /// lost on the way.
    /// </param>
    /// <param name="credentialEnded">Whether <paramref name="open"/> was cancelled because the credential ended.</param>
    private static async Task PumpWebSocketAsync(WebSocket socket, IChatEventSubscription subscription,
        ChatEvent? snapshot, JsonSerializerOptions options, CancellationToken requestAborted, CancellationToken open,
        Func<bool> credentialEnded)
    {
        using var clientGone = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        var reader = Task.Run(async () =>
        {
            // Nothing is expected from the client; reading notices when it closes. Cancelling a pending receive aborts
            // the socket, so only the client's leaving (or a close it does not answer) cancels it.
            var buffer = new byte[1024];
            try
            {
                while (socket.State == WebSocketState.Open)
                {
                    var received = await socket.ReceiveAsync(buffer, clientGone.Token);
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
                await clientGone.CancelAsync();
            }
        }, CancellationToken.None);

        using var sending = CancellationTokenSource.CreateLinkedTokenSource(clientGone.Token, open);
        try
        {
            if (snapshot is not null)
            {
                await SendAsync(socket, snapshot, options, sending.Token);
            }

            await foreach (var chatEvent in subscription.ReadAllAsync(sending.Token))
            {
                await SendAsync(socket, chatEvent, options, sending.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }

        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                // Send the close and let the reader take the client's answer; a client that does not answer within
                // two seconds is cut off.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                if (credentialEnded())
                {
                    await socket.CloseOutputAsync((WebSocketCloseStatus)CredentialEndedCloseStatus, "credential ended",
                        timeout.Token);
                }
                else
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
                }

                await reader.WaitAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException)
            {
            }
        }

        await clientGone.CancelAsync();
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
        response.BodyWriter.Write(": connected\n\n"u8);
        var events = subscription.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        Task<bool>? next = null;
        try
        {
            if (snapshot is not null)
            {
                WriteEvent(response.BodyWriter, snapshot, options);
            }

            var pacing = new EventStreamPacing(response.BodyWriter, KeepAlive, "keep-alive", ct, ct);
            while (true)
            {
                next ??= events.MoveNextAsync().AsTask();
                await pacing.WaitForAsync(next);
                var more = await next;
                next = null;
                if (!more)
                {
                    break;
                }

                WriteEvent(response.BodyWriter, events.Current, options);
            }

            await response.BodyWriter.FlushAsync(ct);
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

    /// <summary>One event, into the response's buffer: it goes out when the stream waits (<see cref="EventStreamPacing"/>).</summary>
    private static void WriteEvent(PipeWriter writer, ChatEvent chatEvent, JsonSerializerOptions options)
    {
        writer.Write("event: "u8);
        Encoding.UTF8.GetBytes(chatEvent.Type, writer);
        writer.Write("\ndata: "u8);
        writer.Write(JsonSerializer.SerializeToUtf8Bytes(chatEvent, options));
        writer.Write("\n\n"u8);
    }
}
