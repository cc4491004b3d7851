using System.Diagnostics;
using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.TestKit;

/// <summary>
/// The test engine every client bot under test runs on (in-process hosts, the cluster's client bot, the fault suite's):
/// it answers from a script, word by word (the reply's words as deltas, with an optional pause), or fails, loses
/// itself mid-answer (as llama-server dying), or stays silent (to exercise timeouts). It records what it was asked,
/// and how many generations were cancelled. Each generation reads the settings as they are when it starts.
/// </summary>
public sealed class ScriptedEngine : IInferenceEngine, IEmbeddingEngine
{
    private readonly List<InferenceRequest> _requests = [];
    private readonly Dictionary<Guid, string?> _traceIds = [];
    private readonly Dictionary<string, int> _asked = new(StringComparer.Ordinal);
    private int _cancellations;

    /// <summary>
    /// Answers "Echo: PROMPT" word by word, <paramref name="between"/> apart, the first word at once (as a model's first
    /// token after its prompt): the cluster's and the fault suite's client bot.
    /// </summary>
    public static ScriptedEngine Echo(TimeSpan between) => new()
    {
        Name = "Echo",
        Reply = r => $"Echo: {r.Turns[^1].Content}",
        DelayBetweenWords = between,
        PauseBeforeFirstWord = false,
    };

    public string Name { get; init; } = "Scripted";

    /// <summary>Builds the reply for a request; by default it echoes the last turn, "You said: …".</summary>
    public Func<InferenceRequest, string> Reply { get; set; } = r => $"You said: {r.Turns[^1].Content}";

    /// <summary>The pause before each word (with <see cref="PauseBeforeFirstWord"/>, the first too).</summary>
    public TimeSpan DelayBetweenWords { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// The tool calls the answer asks for (after its words, if any; its finish reason then <c>tool_calls</c>); none when
    /// null or it gives none.
    /// </summary>
    public Func<InferenceRequest, IReadOnlyList<Domain.Messages.ToolCall>?>? Calls { get; set; }

    /// <summary>
    /// Whether the first word waits <see cref="DelayBetweenWords"/> too (true, the default: the engine is slow to start
    /// as well), or comes at once, as a model's first token after its prompt (false).
    /// </summary>
    public bool PauseBeforeFirstWord { get; set; } = true;

    /// <summary>Rewrites each piece before it goes (its index given): a broken model's output, for instance.</summary>
    public Func<string, int, string>? Pieces { get; set; }

    /// <summary>
    /// Why it says it stopped; null (the default): as a real engine, <c>length</c> when it wrote at least the tokens
    /// asked for, else <c>stop</c>.
    /// </summary>
    public string? FinishReason { get; set; }

    /// <summary>When set, generation throws <see cref="InferenceFailedException"/> with this message.</summary>
    public string? FailWith { get; set; }

    /// <summary>When set, embeddings are refused as an engine refuses an input too long for it (<see cref="InferenceFailedException.InputRefused"/>), with this message.</summary>
    public string? RefuseInputWith { get; set; }

    /// <summary>
    /// When set, the next generation loses the engine after this many words (as llama-server dying mid-answer:
    /// <see cref="InferenceFailedException.EngineLost"/>); the generation after it answers normally.
    /// </summary>
    public int? LoseEngineAfterWords { get; set; }

    /// <summary>The request whose generation lost the engine (<see cref="LoseEngineAfterWords"/>); null until one did.</summary>
    public Guid? LostEngineOn { get; private set; }

    /// <summary>
    /// Whether it writes on from the start of an answer an earlier attempt had shown (<see cref="InferenceRequest.AnswerStart"/>),
    /// as llama-server does (true, the default), or answers from the start as an engine that cannot (false).
    /// </summary>
    public bool Continues { get; set; } = true;

    /// <summary>When true, the engine never produces anything (until cancelled).</summary>
    public bool Hang { get; set; }

    /// <summary>
    /// When set, every generation waits for this task before its first word: an answer that stays unfinished until the
    /// test lets it go, however slowly the test's own calls arrive.
    /// </summary>
    public Task? HoldUntil { get; set; }

    /// <summary>What the engine says of itself in each heartbeat: by default ready, slots unsaid.</summary>
    public EngineHealth Health { get; set; } = new(true, null);

    /// <summary>Ready or not, as <see cref="Health"/> says it (a "not ready" detail when not).</summary>
    public bool Ready
    {
        get => Health.Ready;
        set => Health = Health with { Ready = value, Detail = value ? null : "not ready" };
    }

    /// <summary>How many requests it says it answers at once; null (the default): it does not say.</summary>
    public int? Slots
    {
        get => Health.Slots;
        set => Health = Health with { Slots = value };
    }

    /// <summary>Wall-clock time (Unix ms) at which the latest reply's first piece left the engine.</summary>
    public double? LastFirstPieceAt { get; private set; }

    /// <summary>How many generations were asked to write on from an answer's start (<see cref="InferenceRequest.StartToContinue"/>).</summary>
    public int Continuations => Volatile.Read(ref _continuations);

    private int _continuations;

    /// <summary>How many generations ended cancelled, counted where the engine sees it.</summary>
    public int Cancellations => Volatile.Read(ref _cancellations);

    /// <summary>Every request asked, in order.</summary>
    public IReadOnlyList<InferenceRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>How often a prompt (a request's last turn) was asked.</summary>
    public int TimesAsked(string prompt)
    {
        lock (_requests)
        {
            return _asked.GetValueOrDefault(prompt);
        }
    }

    /// <summary>The trace id current on the worker when it was asked for the request's answer (null: none).</summary>
    public string? TraceIdOf(Guid requestId)
    {
        lock (_requests)
        {
            return _traceIds.GetValueOrDefault(requestId);
        }
    }

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) => Task.FromResult(Health);

    /// <summary>
    /// The models it says it makes embeddings with (<see cref="EngineHealth.Embeddings"/>); none by default. Its vectors
    /// are <see cref="EmbeddingWidth"/> long (or the <c>dimensions</c> asked for), made from the text alone.
    /// </summary>
    public IReadOnlyList<EmbeddingModel>? EmbeddingModels
    {
        get => Health.Embeddings;
        set => Health = Health with { Embeddings = value };
    }

    /// <summary>How long its vectors are when no <c>dimensions</c> are asked for.</summary>
    public int EmbeddingWidth { get; set; } = 8;

    /// <summary>Every embeddings request asked, in order.</summary>
    public IReadOnlyList<EmbeddingRequest> EmbeddingRequests
    {
        get
        {
            lock (_embeddingRequests)
            {
                return [.. _embeddingRequests];
            }
        }
    }

    private readonly List<EmbeddingRequest> _embeddingRequests = [];

    /// <summary>The vector it makes of <paramref name="text"/>: the same text always gives the same vector.</summary>
    public static float[] VectorOf(string text, int width)
    {
        var vector = new float[width];
        var hash = 2166136261u;
        for (var i = 0; i < width; i++)
        {
            foreach (var c in text)
            {
                hash = (hash ^ c) * 16777619u;
            }

            hash = (hash ^ (uint)i) * 16777619u;
            vector[i] = ((hash % 2001) / 1000f) - 1f;
        }

        return vector;
    }

    public Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_embeddingRequests)
        {
            _embeddingRequests.Add(request);
        }

        if (FailWith is { } failure)
        {
            throw new InferenceFailedException(failure);
        }

        if (RefuseInputWith is { } refusal)
        {
            throw new InferenceFailedException(refusal) { InputRefused = true };
        }

        var width = request.Dimensions ?? EmbeddingWidth;
        return Task.FromResult(new EmbeddingResult([.. request.Inputs.Select(i => VectorOf(i, width))],
            request.Inputs.Sum(i => i.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length)));
    }

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_requests)
        {
            _requests.Add(request);
            _traceIds[request.RequestId] = Activity.Current?.TraceId.ToHexString();
            var prompt = request.Turns[^1].Content;
            _asked[prompt] = _asked.GetValueOrDefault(prompt) + 1;
        }

        // Counted where the engine sees it, once per generation: a cancellation that surfaced from a read, or one
        // requested by the time the generation is closed (a registration on the token could be disposed, the iterator
        // finished by the cancellation itself, before the token got round to calling it).
        var cancelled = false;
        var updates = Generate(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            await using (updates)
            {
                while (true)
                {
                    try
                    {
                        if (!await updates.MoveNextAsync())
                        {
                            break;
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        cancelled = true;
                        throw;
                    }

                    yield return updates.Current;
                }
            }
        }
        finally
        {
            if (cancelled || cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _cancellations);
            }
        }
    }

    private async IAsyncEnumerable<InferenceUpdate> Generate(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Hang)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (HoldUntil is { } hold)
        {
            await hold.WaitAsync(cancellationToken);
        }

        if (FailWith is { } failure)
        {
            throw new InferenceFailedException(failure);
        }

        var reply = Reply(request);
        if (request.StartToContinue is not null)
        {
            Interlocked.Increment(ref _continuations);
        }

        var pieces = Pieces;
        var from = 0;
        if (Continues && request.StartToContinue is { } start)
        {
            // As llama-server with a prefilled answer: the start first, then what the reply says after it (a reply that
            // does not begin with the start is written on after it whole). With pieces of its own the start is what it
            // wrote of them, as it wrote them or as stored (cleaned): it goes on with the next piece.
            yield return new InferenceDelta(start, 0);
            if (pieces is null)
            {
                reply = reply.StartsWith(start, StringComparison.Ordinal) ? reply[start.Length..] : reply;
            }
            else
            {
                from = PiecesWritten(reply, pieces, start);
            }
        }

        var words = reply.Length == 0 ? [] : reply.Split(' ');
        var delay = DelayBetweenWords;
        var pauseFirst = PauseBeforeFirstWord;
        var loseAfter = LoseEngineAfterWords;
        LoseEngineAfterWords = null;
        for (var i = from; i < words.Length; i++)
        {
            if (i == 0 && words[0].Length == 0)
            {
                continue; // a continued reply's leading space: it goes with the next word
            }

            if (i == loseAfter)
            {
                LostEngineOn = request.RequestId;
                throw new InferenceFailedException("the scripted engine's process died") { EngineLost = true };
            }

            if (delay > TimeSpan.Zero && (i > from || pauseFirst))
            {
                await FullDelay.WaitAsync(delay, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (i == from)
            {
                LastFirstPieceAt = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalMilliseconds;
            }

            var piece = i == 0 ? words[i] : " " + words[i];
            yield return new InferenceDelta(pieces is null ? piece : pieces(piece, i), 1);
        }

        var calls = Calls?.Invoke(request) is { Count: > 0 } asked ? asked : null;
        var written = words.Length - from;
        yield return new InferenceCompleted(request.Turns.Sum(t => t.Content.Length / 4 + 1), Math.Max(1, written),
            FinishReason ?? (calls is not null ? "tool_calls"
                : request.MaxTokens is { } max && written >= max ? "length" : "stop"))
        {
            ToolCalls = calls,
        };
    }

    /// <summary>
    /// How many of the reply's pieces <paramref name="start"/> holds, as <paramref name="pieces"/> made them or as the
    /// platform stores them (<see cref="StorableText.Clean"/>); 0 when it is not a run of them (written on after it whole).
    /// </summary>
    private static int PiecesWritten(string reply, Func<string, int, string> pieces, string start)
    {
        var words = reply.Split(' ');
        var written = new System.Text.StringBuilder();
        for (var i = 0; i < words.Length; i++)
        {
            written.Append(pieces(i == 0 ? words[i] : " " + words[i], i));
            var text = written.ToString();
            if (text == start || StorableText.Clean(text) == start)
            {
                return i + 1;
            }
        }

        return 0;
    }
}
