using System.Buffers;
using System.Text;
using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.OpenAi;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Application.OpenAi.Queries;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// OpenAI's chat API under <c>/v1</c>, so any OpenAI client reaches the model hosts through the relay: the models, and
/// chat completions answered whole or streamed as <c>chat.completion.chunk</c> events. A completion is a send in a
/// chat of the caller's (<see cref="CompleteChat"/>); errors are in OpenAI's shape (<see cref="OpenAiErrors"/>).
/// </summary>
public static class OpenAiEndpoints
{
    /// <summary>A conversation sent whole each time outgrows the rest of the API's body limit.</summary>
    public const long MaxBodyBytes = 4 * 1024 * 1024;

    /// <summary>
    /// A chat completion may hold images too, base64 in the body: room for the conversation and images well beyond
    /// their cap (<see cref="OpenAiOptions.MaxImageBytes"/>, which refuses more with a message naming the part).
    /// </summary>
    public const long MaxChatBodyBytes = 32 * 1024 * 1024;

    public static WebApplication MapOpenAiEndpoints(this WebApplication app)
    {
        var v1 = app.MapGroup("/v1").WithTags("OpenAI").ExcludeFromDescription();
        v1.MapGet("/models", ListModelsAsync);
        v1.MapGet("/models/{**id}", GetModelAsync);
        v1.MapPost("/chat/completions", (HttpContext context, IMediator mediator, UserConcurrency concurrency,
                IOptions<OpenAiOptions> options) => CompleteAsync(context, mediator, concurrency, options,
                body => ChatCompletionRequest.Read(body, options.Value)))
            .WithMetadata(new RequestSizeLimitAttribute(MaxChatBodyBytes));
        v1.MapPost("/completions", (HttpContext context, IMediator mediator, UserConcurrency concurrency,
                IOptions<OpenAiOptions> options) => CompleteAsync(context, mediator, concurrency, options, ChatCompletionRequest.ReadText))
            .WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes));
        v1.MapPost("/embeddings", EmbedAsync).WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes));
        v1.Map("/{**rest}", (HttpContext context) => throw new ChatCompletionRequest.Refused(
            $"There is no {context.Request.Method} {context.Request.Path} here; this API serves /v1/models, /v1/chat/completions, /v1/completions and /v1/embeddings.",
            null) { Status = StatusCodes.Status404NotFound });
        return app;
    }

    private static async Task ListModelsAsync(HttpContext context, IMediator mediator)
    {
        RequireCaller(context);
        var models = await mediator.Send(new ListModels(), context.RequestAborted);
        await WriteJsonAsync(context, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            foreach (var model in models)
            {
                OpenAiJson.WriteModel(json, model);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static async Task GetModelAsync(string id, HttpContext context, IMediator mediator)
    {
        RequireCaller(context);
        var models = await mediator.Send(new ListModels(), context.RequestAborted);
        if (models.FirstOrDefault(m => m.Name == id) is not { } model)
        {
            throw NotFoundException.Model(id, [.. models.Select(m => m.Name)]);
        }

        await WriteJsonAsync(context, json => OpenAiJson.WriteModel(json, model));
    }

    /// <summary>Says whether a deterministic question was answered from the answer cache: <c>hit</c> or <c>miss</c>.</summary>
    public const string AnswerCacheHeader = "X-MeatLizard-Cache";

    /// <summary>
    /// Embeddings: the vectors of the inputs from a model host that makes them, in OpenAI's <c>list</c> of
    /// <c>embedding</c> objects. No chat is made; the call holds a waiting call's place as a completion does.
    /// </summary>
    private static async Task EmbedAsync(HttpContext context, IMediator mediator, UserConcurrency concurrency)
    {
        RequireCaller(context);
        RequireJson(context);
        var ct = context.RequestAborted;
        EmbeddingsRequest request;
        using (var body = await ReadBodyAsync(context))
        {
            request = EmbeddingsRequest.Read(body.RootElement);
        }

        await using var place = await concurrency.EnterAsync(ConcurrencyScope.WaitingCall, ct);
        var made = await mediator.Send(request.Command, ct);
        await WriteJsonAsync(context, json => OpenAiJson.WriteEmbeddings(json, made, request.Command.Model, request.Base64));
    }

    private static async Task<JsonDocument> ReadBodyAsync(HttpContext context)
    {
        JsonDocument body;
        try
        {
            body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            throw new ChatCompletionRequest.Refused("The request body is not valid JSON.", null);
        }

        if (!WellFormedJson.IsWellFormed(body.RootElement, out var field))
        {
            body.Dispose();
            throw new ChatCompletionRequest.Refused($"The request body holds {WellFormedJson.NotUnicode}.", field);
        }

        return body;
    }

    /// <summary>
    /// A chat completion, or a legacy text completion (<paramref name="read"/> reads the body as the one or the other):
    /// asked the same way, answered in its own objects.
    /// </summary>
    private static async Task CompleteAsync(HttpContext context, IMediator mediator, UserConcurrency concurrency,
        IOptions<OpenAiOptions> options, Func<JsonElement, ChatCompletionRequest> read)
    {
        RequireCaller(context);
        RequireJson(context);
        var ct = context.RequestAborted;
        ChatCompletionRequest request;
        using (var body = await ReadBodyAsync(context))
        {
            request = read(body.RootElement);
        }

        // Taken before sending: a caller over its quota is refused without a message queued.
        await using var place = await concurrency.EnterAsync(ConcurrencyScope.WaitingCall, ct);
        var started = await mediator.Send(request.Command, ct);
        await using var events = started.Events;
        if (started.Cache is { } cache)
        {
            // The answer cache (Cache:Answers): "hit" when the answer was given again without asking a model.
            context.Response.Headers[AnswerCacheHeader] = cache;
        }

        var completion = new OpenAiJson.Completion($"{(request.Text ? "cmpl" : "chatcmpl")}-{started.RequestId:N}",
            DateTimeOffset.UtcNow.ToUnixTimeSeconds(), started.Model, request.Text);
        try
        {
            if (request.Stream)
            {
                using var counted = context.RequestServices.GetRequiredService<PlatformMetrics>().StreamOpened("openai");
                // A stream lives no longer than the credential it was opened with, as the chat streams do.
                using var open = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var (watch, watching) = CredentialWatch.Start(context, open);
                try
                {
                    await StreamAsync(context, started, completion, request.IncludeUsage, options.Value, watch, open.Token);
                }
                finally
                {
                    await open.CancelAsync();
                    await watching;
                }
            }
            else
            {
                var answer = await mediator.Send(
                    new WaitForAnswer(started.ChatId, started.RequestId) { FollowedSinceSent = events }, ct);
                var (content, usage, finish) = ModelAnswer(answer, started);
                await WriteJsonAsync(context,
                    json => OpenAiJson.WriteCompletion(json, completion, content, finish, usage, answer.ToolCalls));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client left: its answer is no longer wanted, and the model host's slot is freed for others.
            await mediator.Send(new CancelGeneration(started.ChatId), CancellationToken.None);
        }
    }

    /// <summary>
    /// The stream: the role first, then the text as it comes, a last chunk with the finish reason, the usage when asked,
    /// and <c>[DONE]</c>. While nothing comes, an SSE comment every <see cref="OpenAiOptions.KeepAliveInterval"/>. An
    /// answer that is not the model's (no host could answer) ends the stream with an error event.
    /// </summary>
    private static async Task StreamAsync(HttpContext context, CompletionStarted started, OpenAiJson.Completion completion,
        bool includeUsage, OpenAiOptions options, CredentialWatch credential,
        CancellationToken open)
    {
        var ct = context.RequestAborted;
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        WriteEvent(response, OpenAiJson.Chunk(completion, role: "assistant", content: "", finish: null));

        // A host that stopped mid-answer hands the request back and another attempt writes the answer again, from what
        // was shown when its engine can continue it; what was sent cannot be taken back, so only what goes on from it
        // is sent (SentAnswer).
        var sent = new SentAnswer();
        AnswerEnd? end = null;
        var follower = context.RequestServices.GetRequiredService<AnswerFollower>();
        var updates = follower.FollowAsync(started.Events, started.RequestId, lookFirst: false, open)
            .GetAsyncEnumerator(open);
        Task<bool>? next = null;
        try
        {
            var pacing = new EventStreamPacing(response.BodyWriter, options.KeepAliveInterval, "waiting", open, ct);
            while (end is null)
            {
                next ??= updates.MoveNextAsync().AsTask();
                await pacing.WaitForAsync(next);
                if (!await next)
                {
                    break;
                }

                var update = updates.Current;
                next = null;
                switch (update)
                {
                    case AnswerWords words:
                        if (sent.Take(words.Text) is { Length: > 0 } fresh)
                        {
                            WriteEvent(response, OpenAiJson.Chunk(completion, null, fresh, null));
                        }

                        break;
                    case AnswerStartedOver:
                        sent.StartOver();
                        break;
                    case AnswerEnd ended:
                        end = ended;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The credential ended (below).
        }
        catch (NotFoundException)
        {
            // A chat that keeps nothing is gone already: what was sent stands.
            end = new AnswerWithdrawn();
        }
        finally
        {
            if (next is not null)
            {
                try
                {
                    await next;
                }
                catch (Exception ex) when (ex is OperationCanceledException or NotFoundException)
                {
                }
            }

            await updates.DisposeAsync();
        }

        if (credential.Ended)
        {
            // Signed out, banned or its key revoked: the answer is no longer this caller's to have, and the model host's
            // slot is freed (by the relay directly: a banned caller may no longer ask anything of the mediator).
            await context.RequestServices.GetRequiredService<IRelayControl>()
                .CancelUnfinishedAsync(new Domain.Common.ChatId(started.ChatId), CancellationToken.None);
            var ended = OpenAiErrors.Describe(new UnauthenticatedException(
                "The credential this stream was opened with has ended (signed out, banned or its API key revoked)."));
            WriteEvent(response, OpenAiErrors.ToJson(ended));
            await WriteDoneAsync(response, ct);
            return;
        }

        if (end is AnswerLate)
        {
            var late = OpenAiErrors.Describe(new ServiceUnavailableException(
                "The answer did not arrive in time; it will appear in the chat when ready.", ModelCatalog.NoHostRetryAfter));
            WriteEvent(response, OpenAiErrors.ToJson(late));
            await WriteDoneAsync(response, ct);
            return;
        }

        // Cancelled before it produced anything (or gone with a chat that keeps nothing): what was sent stands.
        var answer = (end as AnswerGiven)?.Answer;
        if (answer is not null && answer.Source != "model")
        {
            var error = OpenAiErrors.Describe(new ServiceUnavailableException(answer.Content));
            WriteEvent(response, OpenAiErrors.ToJson(error));
            await WriteDoneAsync(response, ct);
            return;
        }

        var finish = "stop";
        OpenAiJson.Usage? usage = null;
        if (answer is not null)
        {
            var (content, answerUsage, answerFinish) = ModelAnswer(answer, started);
            // The stored answer is the whole truth; a piece the bus lost (or that came after a start over) is sent now.
            var rest = sent.RestOf(content);
            if (rest is null)
            {
                // What was sent is not the start of the answer (started over and answered differently, or pieces of two
                // runs of one attempt mixed): the client holds text that was not given, and is told so.
                var error = OpenAiErrors.Describe(new ServiceUnavailableException(
                    "The model host stopped mid-answer and the answer was written again differently; ask again.",
                    ModelCatalog.NoHostRetryAfter));
                WriteEvent(response, OpenAiErrors.ToJson(error));
                await WriteDoneAsync(response, ct);
                return;
            }

            if (rest is { Length: > 0 })
            {
                WriteEvent(response, OpenAiJson.Chunk(completion, null, rest, null));
            }

            if (answer.ToolCalls is { Count: > 0 } calls)
            {
                WriteEvent(response, OpenAiJson.ToolCallsChunk(completion, calls));
            }

            (finish, usage) = (answerFinish, answerUsage);
        }

        WriteEvent(response, OpenAiJson.Chunk(completion, null, null, finish));
        if (includeUsage)
        {
            WriteEvent(response, OpenAiJson.UsageChunk(completion, usage ?? new OpenAiJson.Usage(0, 0)));
        }

        await WriteDoneAsync(response, ct);
    }

    /// <summary>
    /// The model's answer with its usage and finish reason, as the model host's engine said it (<c>stop</c> or
    /// <c>length</c>); for an answer stored without one, <c>length</c> when it used the whole answer length asked for,
    /// else <c>stop</c>. Any other answer means no model host answered: 503, which OpenAI's clients retry.
    /// </summary>
    private static (string Content, OpenAiJson.Usage Usage, string Finish) ModelAnswer(MessageDto answer,
        CompletionStarted started)
    {
        if (answer.Source != "model")
        {
            throw new ServiceUnavailableException(answer.Content, ModelCatalog.NoHostRetryAfter);
        }

        var usage = new OpenAiJson.Usage(answer.Tokens?.Prompt ?? 0, answer.Tokens?.Completion ?? 0);
        return (answer.Content, usage, answer.FinishReason ?? (usage.Completion >= started.MaxTokens ? "length" : "stop"));
    }

    private static void RequireCaller(HttpContext context)
    {
        if (context.User.Identity?.IsAuthenticated != true)
        {
            throw new UnauthenticatedException(
                "No valid API key was given: send one as 'Authorization: Bearer ml_…' (create it in the web app).");
        }
    }

    /// <summary>
    /// The body is JSON, as OpenAI's API takes it: no form or plain-text post (which a page of another site could send
    /// without asking) is read.
    /// </summary>
    private static void RequireJson(HttpContext context)
    {
        if (!context.Request.HasJsonContentType())
        {
            throw new ChatCompletionRequest.Refused(
                "The request body must be JSON, sent with 'Content-Type: application/json'.", null)
            {
                Status = StatusCodes.Status415UnsupportedMediaType,
            };
        }
    }

    /// <summary>
    /// One event, into the response's buffer; nothing for a null one (a text completion's role chunk, which it does not
    /// have). It goes out with the next flush: the stream flushes before it waits and at its end (<see cref="WriteDoneAsync"/>),
    /// so the events ready together — an answer's last words, its finish, usage and <c>[DONE]</c> — are one write and one
    /// chunk instead of three writes each, which the caller read one by one.
    /// </summary>
    private static void WriteEvent(HttpResponse response, byte[]? json)
    {
        if (json is null)
        {
            return;
        }

        var writer = response.BodyWriter;
        writer.Write("data: "u8);
        writer.Write(json);
        writer.Write("\n\n"u8);
    }

    /// <summary>The stream's end, sent with every event still in the buffer.</summary>
    private static async Task WriteDoneAsync(HttpResponse response, CancellationToken ct)
    {
        response.BodyWriter.Write("data: [DONE]\n\n"u8);
        await response.BodyWriter.FlushAsync(ct);
    }

    private static Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(OpenAiJson.Write(write), context.RequestAborted).AsTask();
    }
}
