using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Common;

/// <summary>Relay timing (section "Relay"). Keys and the transport are read by Infrastructure.</summary>
public sealed class RelayOptions
{
    public const string Section = "Relay";

    /// <summary>How long a worker has to acknowledge a request before the fallback answers.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a worker may hold back its acknowledgement hoping to send the first output instead: a partial, final
    /// or error acknowledges the request by itself, so a fast engine costs one envelope less per answer. A slow one
    /// (model loading, long prompt) still acks after this delay, well inside <see cref="AckTimeout"/>.
    /// </summary>
    public TimeSpan AckDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a whole answer may take.</summary>
    public TimeSpan CompletionTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// How long at most the ack and completion deadlines are held while the relay cannot reach its hosts (Discord
    /// failing or not answering, this process down): they measure the model host, not the way to it. Past this, an
    /// outage counts against them like any other wait.
    /// </summary>
    public TimeSpan MaxOutageHold { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How often a worker sends accumulated output (Discord allows about one message per second); the relay in one
    /// process defaults to <see cref="InProcessPartialInterval"/>, the direct relay to <see cref="DirectPartialInterval"/>.
    /// </summary>
    public TimeSpan PartialInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The default <see cref="PartialInterval"/> when both relay ends share a process.</summary>
    public static readonly TimeSpan InProcessPartialInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The default <see cref="PartialInterval"/> on the direct relay (no Discord limit): token by token, coalesced to
    /// at most one piece per 30 ms.
    /// </summary>
    public static readonly TimeSpan DirectPartialInterval = TimeSpan.FromMilliseconds(30);

    /// <summary>How far an envelope's sentAt may be from now.</summary>
    public TimeSpan FreshnessWindow { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A worker with no heartbeat for this long counts as offline.</summary>
    public TimeSpan WorkerTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long after a host that takes work was last known questions wait for it rather than be told no host is
    /// online: a worker timeout, and at least an ack timeout — as long as a question sent to a host waits for it to
    /// answer at all. A heartbeat is late when the host, the way or this process is slow (a busy machine delayed them
    /// by seconds in CI), or lost with the store that kept it (a Redis restart); a notice or a refusal then would be an
    /// answer lost to a host that was there.
    /// </summary>
    public TimeSpan LateHostGrace => AckTimeout > WorkerTimeout ? AckTimeout : WorkerTimeout;

    /// <summary>How often the dispatcher looks for pending or overdue requests when nothing wakes it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a dispatcher holds the pending requests it claimed: longer than dispatching takes, short enough that
    /// requests claimed by a dispatcher that died are picked up again soon.
    /// </summary>
    public TimeSpan DispatchLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many times a request may be sent to a model host: one whose host stops or goes quiet before answering is
    /// sent to another while attempts are left, then ends with a notice.
    /// </summary>
    public int MaxAttempts { get; set; } = 2;

    /// <summary>
    /// How many more times than <see cref="MaxAttempts"/> a request may be sent when its host's engine died under it
    /// (<c>engine_lost</c>: llama-server killed or crashed mid-answer, and started again by its host). An engine's
    /// restart is not the question's fault, so it does not use up the attempts; a question that kills the engine every
    /// time it is asked still ends, with a notice.
    /// </summary>
    public int EngineLostRetries { get; set; } = 3;

    /// <summary>
    /// How many more times than <see cref="MaxAttempts"/> a request may be sent when its host failed it (went quiet,
    /// stopped, or never acknowledged it) while another live host serves its model: a host's failure is not the
    /// question's, so it goes to that host instead of ending with a notice; a question every host fails on still ends.
    /// </summary>
    public int HostFailureRetries { get; set; } = 3;

    /// <summary>
    /// How many messages may wait for a host in one model's queue; one more is refused (503 with Retry-After) rather
    /// than wait behind them. 0: no limit.
    /// </summary>
    public int MaxQueuePerModel { get; set; } = 1_000;

    /// <summary>How many history messages a prompt may hold at most before the token budget cuts further.</summary>
    public int MaxHistoryMessages { get; set; } = 200;

    /// <summary>
    /// The most images one request carries to its host, the question's and its earlier turns' together
    /// (<see cref="Relay.Dispatch.PromptImages"/>): a multimodal model reads each one into its context.
    /// </summary>
    public int MaxImagesPerRequest { get; set; } = 8;

    /// <summary>
    /// The most bytes the images one request carries to its host may hold together (decoded). The default, the same as a
    /// message's own (<see cref="OpenAiOptions.MaxImageBytes"/>), keeps the envelope — the images base64 twice over, about
    /// 1.8 times their size — within a Discord attachment's 10 MB (<c>Discord:MaxAttachmentBytes</c>).
    /// </summary>
    public long MaxImageBytesPerRequest { get; set; } = 5 * 1024 * 1024;
}

/// <summary>Section "Fallback".</summary>
public sealed class FallbackOptions
{
    public const string Section = "Fallback";

    public FallbackMode Mode { get; set; } = FallbackMode.Inform;
}

/// <summary>
/// Section "RateLimits": token buckets per user and per client IP for everything that costs something, and caps on
/// what one user holds open at once.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    public int PerUserPerMinute { get; set; } = 30;

    public int UserBurst { get; set; } = 10;

    public int PerIpPerMinute { get; set; } = 120;

    public int IpBurst { get; set; } = 30;

    /// <summary>Per guild (or admin-set group) of users; 0 = unlimited.</summary>
    public int PerGuildPerMinute { get; set; }

    public int GuildBurst { get; set; } = 60;

    /// <summary>Log-in attempts per client IP, whatever the outcome.</summary>
    public int LogInPerIpPerMinute { get; set; } = 30;

    public int LogInIpBurst { get; set; } = 20;

    /// <summary>
    /// Failed log-ins per client IP and username: after the burst, one try per (60 / rate) seconds. Only failures
    /// count, so the user who gets the password right is never slowed down.
    /// </summary>
    public int LogInFailuresPerMinute { get; set; } = 6;

    public int LogInFailureBurst { get; set; } = 5;

    /// <summary>The same failures over a longer span: once this burst is spent too, the wait grows to (60 / rate) seconds.</summary>
    public int LogInSustainedFailuresPerMinute { get; set; } = 1;

    public int LogInSustainedFailureBurst { get; set; } = 20;

    public int RegisterPerIpPerMinute { get; set; } = 10;

    public int RegisterIpBurst { get; set; } = 20;

    public int ChatCreationPerUserPerMinute { get; set; } = 20;

    public int ChatCreationBurst { get; set; } = 30;

    public int ApiKeyCreationPerUserPerMinute { get; set; } = 5;

    public int ApiKeyCreationBurst { get; set; } = 10;

    public int TranscriptStorePerUserPerMinute { get; set; } = 6;

    public int TranscriptStoreBurst { get; set; } = 10;

    /// <summary>Changes to a user's own records (renaming a chat, changing its settings, a link code), per user.</summary>
    public int EditsPerUserPerMinute { get; set; } = 60;

    public int EditBurst { get; set; } = 30;

    /// <summary>Every admin console call, a read included, per admin: far more than a person clicks, a runaway script's cap.</summary>
    public int AdminCallsPerUserPerMinute { get; set; } = 240;

    public int AdminCallBurst { get; set; } = 120;

    /// <summary>WebSocket/SSE streams one user may hold open at once, across every API instance (0: unlimited).</summary>
    public int MaxOpenStreamsPerUser { get; set; } = 16;

    /// <summary><c>?wait=true</c> calls one user may have in flight at once, across every API instance (0: unlimited).</summary>
    public int MaxWaitingCallsPerUser { get; set; } = 4;

    /// <summary>
    /// How long a stream or waiting call holds its place without renewal: an instance that dies frees its places
    /// after this; a live one renews them every third of it.
    /// </summary>
    public TimeSpan ConcurrencyLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many leading bits of an IPv6 address the per-IP limits count as one client (an end site gets at least a /64,
    /// every address of which it can use); IPv4 addresses count one by one. 32 to 128.
    /// </summary>
    public int Ipv6PrefixLength { get; set; } = 64;

    /// <summary>The first setting that makes no sense, as one line naming its key; null when all are fine.</summary>
    public string? FirstProblem()
    {
        if (Ipv6PrefixLength is < 32 or > 128)
        {
            return $"{Section}:{nameof(Ipv6PrefixLength)} must be from 32 to 128 (64: one client per /64).";
        }

        (string Key, int Value)[] notNegative =
        [
            (nameof(UserBurst), UserBurst), (nameof(IpBurst), IpBurst), (nameof(GuildBurst), GuildBurst),
            (nameof(LogInIpBurst), LogInIpBurst), (nameof(LogInFailureBurst), LogInFailureBurst),
            (nameof(LogInSustainedFailureBurst), LogInSustainedFailureBurst), (nameof(RegisterIpBurst), RegisterIpBurst),
            (nameof(ChatCreationBurst), ChatCreationBurst), (nameof(ApiKeyCreationBurst), ApiKeyCreationBurst),
            (nameof(TranscriptStoreBurst), TranscriptStoreBurst), (nameof(EditBurst), EditBurst),
            (nameof(AdminCallBurst), AdminCallBurst),
            (nameof(MaxOpenStreamsPerUser), MaxOpenStreamsPerUser), (nameof(MaxWaitingCallsPerUser), MaxWaitingCallsPerUser),
        ];
        foreach (var (key, value) in notNegative)
        {
            if (value < 0)
            {
                return $"{Section}:{key} must not be negative (0 for the smallest burst, or no cap for the Max* keys).";
            }
        }

        return ConcurrencyLease < TimeSpan.FromSeconds(1) || ConcurrencyLease > TimeSpan.FromHours(1)
            ? $"{Section}:{nameof(ConcurrencyLease)} must be between 00:00:01 and 01:00:00, e.g. 00:00:30."
            : null;
    }

    public RateLimit For(RateLimitScope scope) => scope switch
    {
        RateLimitScope.User => new RateLimit(PerUserPerMinute, UserBurst),
        RateLimitScope.Ip => new RateLimit(PerIpPerMinute, IpBurst),
        RateLimitScope.Guild => new RateLimit(PerGuildPerMinute, GuildBurst),
        RateLimitScope.LogIn => new RateLimit(LogInPerIpPerMinute, LogInIpBurst),
        RateLimitScope.LogInFailure => new RateLimit(LogInFailuresPerMinute, LogInFailureBurst),
        RateLimitScope.LogInSustainedFailure => new RateLimit(LogInSustainedFailuresPerMinute, LogInSustainedFailureBurst),
        RateLimitScope.Register => new RateLimit(RegisterPerIpPerMinute, RegisterIpBurst),
        RateLimitScope.ChatCreation => new RateLimit(ChatCreationPerUserPerMinute, ChatCreationBurst),
        RateLimitScope.ApiKeyCreation => new RateLimit(ApiKeyCreationPerUserPerMinute, ApiKeyCreationBurst),
        RateLimitScope.TranscriptStore => new RateLimit(TranscriptStorePerUserPerMinute, TranscriptStoreBurst),
        RateLimitScope.Edit => new RateLimit(EditsPerUserPerMinute, EditBurst),
        RateLimitScope.Admin => new RateLimit(AdminCallsPerUserPerMinute, AdminCallBurst),
        _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, "Unknown rate-limit scope."),
    };
}

/// <summary>Stops the host with the one line <see cref="RateLimitOptions.FirstProblem"/> gives.</summary>
public sealed class RateLimitOptionsValidation : Microsoft.Extensions.Options.IValidateOptions<RateLimitOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, RateLimitOptions options) =>
        options?.FirstProblem() is { } problem
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problem)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}

/// <summary>Section "Inference": what the worker runs and the prompt budget the dispatcher keeps to.</summary>
public sealed class InferenceOptions
{
    public const string Section = "Inference";

    /// <summary>"None" (no worker; the fallback answers), or an engine name (LlamaServer, LlamaCli) once built.</summary>
    public string Engine { get; set; } = "None";

    public string? LlamaCppDir { get; set; }

    public string? ModelPath { get; set; }

    /// <summary>The model's context window in tokens; prompts are cut to fit it with room for the answer.</summary>
    public int ContextSize { get; set; } = 4096;

    public int GpuLayers { get; set; }

    public int Threads { get; set; }

    /// <summary>The answer length used when neither the message nor the chat sets one.</summary>
    public int MaxTokens { get; set; } = 512;

    /// <summary>The model name reported when a chat does not choose one.</summary>
    public string DefaultModel { get; set; } = "default";

    /// <summary>
    /// The public name of the model a model host serves (OpenAI's <c>model</c>, listed by <c>/v1/models</c>); by default
    /// the model file's name without its extension.
    /// </summary>
    public string? ModelName { get; set; }

    /// <summary>
    /// The names this host serves its model under: the one configured (<see cref="ModelName"/>), else, when it runs an
    /// engine, its model file's name (or the default's); none otherwise.
    /// </summary>
    public IReadOnlyList<string> ServedModelNames() =>
        ModelName is { Length: > 0 } name ? [name]
        : string.Equals(Engine, "None", StringComparison.OrdinalIgnoreCase) ? []
        : [ModelPath is { Length: > 0 } path ? Path.GetFileNameWithoutExtension(path) : DefaultModel];
}

/// <summary>Section "Api:OpenAi": the OpenAI-compatible API under <c>/v1</c>.</summary>
public sealed class OpenAiOptions
{
    public const string Section = "Api:OpenAi";

    /// <summary>Whether a completion that does not say (OpenAI's <c>store</c>) is kept as a chat once answered.</summary>
    public bool StoreByDefault { get; set; } = true;

    /// <summary>How often a stream still waiting for its first word sends an SSE comment, so proxies keep it open.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most inputs one embeddings request may hold (OpenAI's own limit is 2,048).</summary>
    public int MaxEmbeddingInputs { get; set; } = 2048;

    /// <summary>The most characters all the inputs of one embeddings request may hold together.</summary>
    public int MaxEmbeddingCharacters { get; set; } = 1_000_000;

    /// <summary>
    /// The most bytes the images of one message may hold together (decoded). The default keeps a request envelope,
    /// the images base64 twice over (the JSON body, then the sealed envelope), within a Discord attachment's 10 MB.
    /// </summary>
    public long MaxImageBytes { get; set; } = 5 * 1024 * 1024;

    /// <summary>The most pixels (width × height, as the image's header says) one image may have.</summary>
    public long MaxImagePixels { get; set; } = 4096L * 4096;

    /// <summary>The most images one message may hold.</summary>
    public int MaxImagesPerMessage { get; set; } = 4;
}
