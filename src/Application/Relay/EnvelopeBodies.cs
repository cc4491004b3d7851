using System.Text.Json;
using System.Text.Json.Serialization;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

/// <summary>
/// One turn of the conversation. <c>toolCalls</c> (an answer's calls) and <c>toolCallId</c> (a tool result's call)
/// were added later, with the <c>tool</c> role: absent on other turns. <c>images</c> (added later; absent when none) are
/// a user's turn's images, each a <c>data:</c> URL of its bytes (sent only to a host whose model takes images).
/// </summary>
public sealed record TurnBody(
    string Role, string Content, IReadOnlyList<Common.Models.ToolCallDto>? ToolCalls = null, string? ToolCallId = null)
{
    public IReadOnlyList<string>? Images { get; init; }
}

/// <summary>Server → client: what to generate. <c>extras</c> (added later; absent or null on a plain send) as in
/// <see cref="GenerationExtras"/>. <c>workerId</c> is the model host the server chose: every other host that reads the
/// envelope (several share the relay channels) leaves it alone; null, any host may answer. <c>traceParent</c> (added
/// later; absent from older servers) is the W3C trace context of the dispatch: it travels inside the encrypted body, so
/// the model host's job joins the message's trace and Discord never sees it. <c>answerStart</c> (added later; absent
/// or null when there is none) is the start of the answer an earlier attempt's host had shown before it stopped: a host
/// whose engine can continue an answer sends it as its first piece and writes on from it; an older host, or one whose
/// engine cannot, ignores it and answers from the start.</summary>
public sealed record RequestBody(
    string? Model, string? SystemPrompt, IReadOnlyList<TurnBody> Messages, double? Temperature, double? TopP,
    int? MaxTokens, GenerationExtras? Extras = null, Guid? WorkerId = null, string? TraceParent = null,
    string? AnswerStart = null);

/// <summary>Error codes both relay ends know: those a server answers by sending the request to another host.</summary>
public static class RelayErrorCodes
{
    /// <summary>The host stopped the request because it is shutting down.</summary>
    public const string Shutdown = "shutdown";

    /// <summary>The host is draining and takes no new request.</summary>
    public const string Draining = "draining";

    /// <summary>
    /// The host's last run began the request (and may have streamed part of the answer) and is gone: this run leaves it
    /// (<see cref="Abstractions.IBegunJobs"/>), so the server sends it again, going on from what was shown.
    /// </summary>
    public const string Restarted = "restarted";

    /// <summary>
    /// The host's engine process died mid-answer and is being started again: the question is worth asking once more.
    /// </summary>
    public const string EngineLost = "engine_lost";

    /// <summary>
    /// The host's engine cannot answer for now (its upstream server out of reach or refusing, its circuit breaker open)
    /// and gave nothing of the answer: another host serving the model may answer it.
    /// </summary>
    public const string EngineUnavailable = "engine_unavailable";

    /// <summary>
    /// The host's engine refused the input itself (<see cref="Abstractions.InferenceFailedException.InputRefused"/>):
    /// not sent to another host; the caller is told its input was refused.
    /// </summary>
    public const string InputRefused = "input_refused";
}

/// <summary>
/// Client → server: the worker has the request. <c>bootId</c> (added later; absent from older hosts) is the run that took
/// it, as its heartbeats name it: a server that hears another run of the host knows the request was lost with this one.
/// </summary>
public sealed record AckBody(Guid WorkerId, Guid? BootId = null);

/// <summary>Client → server: text produced since the previous partial.</summary>
public sealed record PartialBody(string Text);

/// <summary>
/// Client → server: the whole answer (authoritative, even if partials were lost), with the engine's token counts.
/// <c>inferenceMs</c> is the worker's wall time for the job (model wait and queue included); the engine's own timings
/// follow when it reports them (added later, null or absent otherwise): <c>promptMs</c> reading the prompt,
/// <c>generationMs</c> generating, <c>cachedPromptTokens</c> prompt tokens taken from its cache.
/// </summary>
/// <remarks>
/// <c>Model</c> names the model that wrote it, as the host serves it (added later: absent from older hosts).
/// <c>ToolCalls</c> (added later) are the tool calls the answer asks for, its finish reason then <c>tool_calls</c>.
/// </remarks>
public sealed record FinalBody(
    string Content, int PromptTokens, int CompletionTokens, int InferenceMs, string FinishReason,
    double? PromptMs = null, double? GenerationMs = null, int? CachedPromptTokens = null, string? Model = null,
    IReadOnlyList<Common.Models.ToolCallDto>? ToolCalls = null)
{
    /// <summary>Generation speed as the engine measured it; null when it did not report its timings.</summary>
    public double? TokensPerSecond => GenerationMs > 0 ? CompletionTokens * 1000.0 / GenerationMs : null;
}

/// <summary>
/// Server → client (<c>embed</c>, added later): texts to turn into vectors with <c>model</c> (null: the host's first),
/// <c>dimensions</c> long when set (sent only to a model that says it takes them). It travels on the control channel (it
/// belongs to no chat), addressed to one host by <c>workerId</c>; <c>traceParent</c> as in <see cref="RequestBody"/>.
/// </summary>
public sealed record EmbedBody(
    string? Model, IReadOnlyList<string> Input, int? Dimensions, Guid? WorkerId, string? TraceParent = null);

/// <summary>
/// Client → server (<c>vectors</c>, added later): one vector per input of the <c>embed</c>, in its order, each the base64
/// of its little-endian 32-bit floats; the tokens read, the worker's wall time and the model that made them.
/// </summary>
public sealed record VectorsBody(IReadOnlyList<string> Vectors, int PromptTokens, int InferenceMs, string? Model = null);

/// <summary>Client → server: the worker could not answer. The message is safe to show to the user.</summary>
public sealed record ErrorBody(string Code, string Message);

/// <summary>Server → client: stop generating this request.</summary>
public sealed record CancelBody(string Reason);

/// <summary>
/// Client → server on the control channel: the worker is alive, and how it is doing. <c>engineLoading</c> (added
/// later; absent means false) says an engine that is not ready is loading its model and will be; <c>models</c> (added
/// later; absent means none named) the names of the models it serves; <c>engineRestarting</c> (added later; absent means
/// false) that its engine died and is being started again: it is sent nothing until it is ready (it says
/// <c>engineLoading</c> too, so a server that does not know the flag lets requests wait there rather than fall back);
/// <c>takesTools</c> (added later; absent means false) that every model it serves takes tools.
/// </summary>
/// <remarks>
/// <c>HostName</c> is the operator's name for the machine (<c>Host:HostName</c>), <c>Slots</c> how many requests its
/// engine answers at once (null: it does not say), <c>TokensPerSecond</c> its measured generation speed (null until it
/// has answered), <c>ModelDetails</c> each model's own slots (when the host runs it apart), context size, running
/// requests and speed.
/// </remarks>
public sealed record HeartbeatBody(
    Guid WorkerId, string Engine, bool EngineReady, int JobsRunning, bool Draining, string? LastError,
    bool EngineLoading = false, IReadOnlyList<string>? Models = null, string? HostName = null, int? Slots = null,
    double? TokensPerSecond = null, Guid? BootId = null, IReadOnlyList<ModelCapacity>? ModelDetails = null,
    bool EngineRestarting = false, bool TakesTools = false);

/// <summary>The JSON shape shared by every envelope body, on both ends of the relay.</summary>
public static class RelayJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static JsonElement ToBody<T>(T body) => JsonSerializer.SerializeToElement(body, Options);

    /// <summary>Reads a body; throws <see cref="JsonException"/> when it does not fit the type.</summary>
    public static T FromBody<T>(RelayEnvelope envelope)
        where T : class =>
        envelope.Body.Deserialize<T>(Options) ?? throw new JsonException($"The {envelope.Type} body is empty.");
}
