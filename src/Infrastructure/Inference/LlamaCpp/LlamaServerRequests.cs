using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Inference;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.ChatCompletions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// The request path to a supervised llama-server: answers (the chat fitted to the context with llama-server's own
/// token counts, a body with our own grammar for JSON answers, the stream read by <see cref="LlamaServerQuestion"/>)
/// and embeddings. Each takes one of the slots: requests beyond Inference:Parallel wait here rather than in
/// llama-server, whose HTTP thread pool is small (slots + 2) and which drops connections it has no thread for.
/// </summary>
internal sealed partial class LlamaServerRequests(
    LlamaCppOptions options,
    LlamaServerSupervisor supervisor,
    HttpClient http,
    ILogger logger) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Parallel, options.Parallel);
    private readonly LlamaServerTokenCounter _tokens = new(http, logger);

    /// <summary>How many prompt tokens the last finished answer took from llama-server's prompt cache.</summary>
    public int LastCachedPromptTokens { get; private set; }

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var deadline = new LlamaServerDeadline(options.TimeoutSeconds, cancellationToken);
        await deadline.KeepAsync(token => _slots.WaitAsync(token));
        using var slot = new SlotLease(_slots);

        // The run is taken once the slot is: a request that waited for one must not use the address of a llama-server
        // that died meanwhile.
        var (run, prompt) = await deadline.KeepAsync(token => PrepareAsync(request, token));
        var start = request.StartToContinue;
        if (start is not null)
        {
            // The answer so far is this one's first piece (none of the engine's tokens); llama-server's copy of it in
            // front of what it writes is taken out (EchoedStart).
            yield return new InferenceDelta(start, 0);
        }

        var question = new LlamaServerQuestion(supervisor, http, deadline, logger, request.RequestId,
            RequestBody(request, prompt), start, (completed, stream) =>
            {
                LastCachedPromptTokens = stream.CachedTokens;
                LogCompleted(logger, request.RequestId, completed.PromptTokens, stream.CachedTokens,
                    completed.CompletionTokens, stream.PromptMilliseconds, stream.PredictedMilliseconds,
                    prompt.DroppedTurns);
            });
        await foreach (var update in question.AnswerAsync(run))
        {
            yield return update;
        }
    }

    /// <summary>
    /// The vectors of the inputs from llama-server's <c>/v1/embeddings</c>; it spreads an array of inputs over its
    /// slots itself. The call takes one of the slots, as an answer does.
    /// </summary>
    public async Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            var run = await supervisor.ReadyRunAsync(after: 0, cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
            return await EmbeddingsCall.PostAsync(http, () => run.Request(HttpMethod.Post, "v1/embeddings"),
                "llama-server", null, request with { Dimensions = null }, timeout.Token);
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>
    /// The ready run (not one a request saw die) and the chat fitted to its context. An answer an earlier attempt had
    /// started goes in as a last assistant message: llama-server prefills it (--prefill-assistant, its default) and
    /// writes on from it, and the answer's token budget holds what was written of it before.
    /// </summary>
    private async Task<(LlamaServerRun Run, ChatPrompt Prompt)> PrepareAsync(InferenceRequest request, CancellationToken token)
    {
        var start = request.StartToContinue;
        var continuing = start is null ? request : request with { Turns = [.. request.Turns, new ChatTurn(MessageRole.Assistant, start)] };
        var run = await supervisor.ReadyRunAsync(after: supervisor.LostRun, token);
        // Counted inside the slot: llama-server has few HTTP threads, and requests beyond the slots wait here.
        var prompt = await ChatPrompt.FitAsync(continuing, options, (text, ct) => _tokens.CountAsync(run, text, ct), token);
        if (start is not null)
        {
            var written = await _tokens.CountAsync(run, start, token);
            prompt = prompt with { MaxTokens = Math.Max(1, prompt.MaxTokens - written) };
        }

        return (run, prompt);
    }

    private string RequestBody(InferenceRequest request, ChatPrompt prompt)
    {
        var body = ChatCompletionsBody.Create(request, prompt, options);
        body["cache_prompt"] = true;
        if (request.Extras?.ResponseFormat is { } format && JsonSchemaGrammar.ForResponseFormat(format) is { } grammar)
        {
            // Our own grammar, not llama-server's response_format: see JsonSchemaGrammar.
            body["grammar"] = grammar;
        }

        return body.ToJsonString();
    }

    /// <summary>Gives a slot back when the answer is done, however it ends.</summary>
    private sealed class SlotLease(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId}: {PromptTokens} prompt tokens ({CachedTokens} from cache) in {PromptMs} ms, {CompletionTokens} generated in {PredictedMs} ms ({DroppedTurns} old turns dropped)")]
    private static partial void LogCompleted(ILogger logger, Guid requestId, int promptTokens, int cachedTokens,
        int completionTokens, double promptMs, double predictedMs, int droppedTurns);
}
