using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace MeatLizard.TestKit;

/// <summary>
/// A strict stand-in for an OpenAI-compatible server on 127.0.0.1: it takes only <c>GET /v1/models</c> and
/// <c>POST /v1/chat/completions</c> with a JSON body, one request per connection, and answers with what the test
/// scripts (<see cref="Respond"/>), byte for byte — including streams that break, lie or never end. Anything else the
/// engine sends is a violation, answered 400 and reported when the server is disposed.
/// </summary>
public sealed class LoopbackChatServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<Exchange> _exchanges = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;

    private LoopbackChatServer()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>How the server answers a request; by default a short, well-formed stream.</summary>
    public Func<Exchange, Task> Respond { get; set; } = exchange => exchange.WriteStreamAsync(
        [Chunk("Hello"), Chunk(" there", finish: "stop"), Usage(5, 2)]);

    /// <summary>The API root as an operator would configure it.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture)}/v1");

    /// <summary>Every request received, in order.</summary>
    public IReadOnlyList<Exchange> Exchanges => [.. _exchanges];

    public IEnumerable<Exchange> Completions => Exchanges.Where(e => e.Path == "/v1/chat/completions");

    public static LoopbackChatServer Start() => new();

    /// <summary>A <c>chat.completion.chunk</c> carrying <paramref name="content"/> (and a finish reason, when given).</summary>
    public static string Chunk(string? content, string? finish = null) => new JsonObject
    {
        ["id"] = "chatcmpl-1",
        ["object"] = "chat.completion.chunk",
        ["model"] = "upstream",
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["delta"] = content is null ? new JsonObject() : new JsonObject { ["content"] = content },
            ["finish_reason"] = finish,
        }),
    }.ToJsonString();

    /// <summary>
    /// A chunk carrying one piece of a tool call, as OpenAI streams them: the first piece of a call brings its index,
    /// id, type and name, later ones (the same index only) more of its arguments.
    /// </summary>
    public static string ToolCallChunk(int index, string? id, string? name, string arguments, string? finish = null)
    {
        var call = new JsonObject { ["index"] = index };
        if (id is not null)
        {
            call["id"] = id;
            call["type"] = "function";
        }

        call["function"] = name is null
            ? new JsonObject { ["arguments"] = arguments }
            : new JsonObject { ["name"] = name, ["arguments"] = arguments };
        return new JsonObject
        {
            ["id"] = "chatcmpl-1",
            ["object"] = "chat.completion.chunk",
            ["model"] = "upstream",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["delta"] = new JsonObject { ["tool_calls"] = new JsonArray(call) },
                ["finish_reason"] = finish,
            }),
        }.ToJsonString();
    }

    /// <summary>The last chunk of a stream asked for usage: no choices, the token counts.</summary>
    public static string Usage(int prompt, int completion) => new JsonObject
    {
        ["id"] = "chatcmpl-1",
        ["object"] = "chat.completion.chunk",
        ["choices"] = new JsonArray(),
        ["usage"] = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
        },
    }.ToJsonString();

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
        Assert.That(_violations, Is.Empty, "the engine sent requests no OpenAI-compatible server expects");
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_connections)
            {
                _connections.Add(Task.Run(() => ServeAsync(client)));
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            Exchange? read;
            try
            {
                read = await Exchange.ReadAsync(client, _stopping.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or FormatException)
            {
                _violations.Enqueue($"unreadable request: {ex.Message}");
                return;
            }

            if (read is not { } exchange)
            {
                // Closed (or the server stopped) before a request began: a client may open a connection it never
                // needs — one opened for a request another connection took, closed when the client stops — and HTTP
                // allows it. Only a request cut or malformed is one no server expects.
                return;
            }

            _exchanges.Enqueue(exchange);
            if (Violation(exchange) is { } violation)
            {
                _violations.Enqueue(violation);
                await exchange.WriteJsonAsync(400, """{"error":{"message":"not a request this server takes"}}""");
                return;
            }

            try
            {
                await Respond(exchange);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // The engine closed the connection: what a cancel does.
            }

            await stream.FlushAsync(CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// W3C Trace Context §3.2: <c>00-</c>, 32 lowercase hex digits of trace id, <c>-</c>, 16 of parent id, <c>-</c>, 2 of
    /// flags; an id of all zeros is invalid.
    /// </summary>
    private static bool IsTraceParent(string value) =>
        System.Text.RegularExpressions.Regex.IsMatch(value, "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
        && value[3..35] != new string('0', 32) && value[36..52] != new string('0', 16);

    private static string? Violation(Exchange exchange)
    {
        if (exchange.Header("traceparent") is { } traceParent && !IsTraceParent(traceParent))
        {
            return $"traceparent '{traceParent}' is not one W3C trace context (version 00)";
        }

        switch (exchange.Method, exchange.Path)
        {
            case ("GET", "/v1/models"):
                return null;
            case ("POST", "/v1/chat/completions"):
                if (exchange.Header("Content-Type")?.StartsWith("application/json", StringComparison.Ordinal) != true)
                {
                    return $"chat completion with content type '{exchange.Header("Content-Type")}'";
                }

                JsonNode? body;
                try
                {
                    body = JsonNode.Parse(exchange.Body);
                }
                catch (System.Text.Json.JsonException)
                {
                    return "chat completion body is not JSON";
                }

                if (body?["model"]?.GetValue<string>() is not { Length: > 0 } || body["messages"] is not JsonArray { Count: > 0 }
                    || body["stream"]?.GetValue<bool>() != true)
                {
                    return "chat completion without model, messages or stream: true";
                }

                return null;
            case ("POST", "/v1/embeddings"):
                try
                {
                    return JsonNode.Parse(exchange.Body) is { } embed && embed["model"]?.GetValue<string>() is { Length: > 0 }
                                                                       && embed["input"] is JsonArray { Count: > 0 }
                        ? null
                        : "embeddings without model or input";
                }
                catch (System.Text.Json.JsonException)
                {
                    return "embeddings body is not JSON";
                }

            default:
                return $"{exchange.Method} {exchange.Path}";
        }
    }

    /// <summary>One request, and the means to answer it.</summary>
    public sealed class Exchange
    {
        private readonly TcpClient _client;
        private readonly NetworkStream _stream;
        private readonly Dictionary<string, string> _headers;
        private Task<bool>? _closed;

        private Exchange(TcpClient client, string method, string path, Dictionary<string, string> headers, string body)
        {
            _client = client;
            _stream = client.GetStream();
            Method = method;
            Path = path;
            _headers = headers;
            Body = body;
        }

        public string Method { get; }

        public string Path { get; }

        public string Body { get; }

        public JsonNode Json => JsonNode.Parse(Body)!;

        public string? Header(string name) => _headers.GetValueOrDefault(name.ToLowerInvariant());

        /// <summary>The request on the connection; null when it closed, or the server stopped, before one began.</summary>
        public static async Task<Exchange?> ReadAsync(TcpClient client, CancellationToken cancellationToken)
        {
            var stream = client.GetStream();
            var head = new List<byte>();
            var one = new byte[1];
            while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                int got;
                try
                {
                    got = await stream.ReadAsync(one, cancellationToken);
                }
                catch (Exception ex) when (head.Count == 0 && (ex is OperationCanceledException or IOException))
                {
                    return null;
                }

                if (got == 0)
                {
                    return head.Count == 0 ? null : throw new IOException("the connection closed before the request's headers ended");
                }

                head.Add(one[0]);
            }

            var lines = Encoding.ASCII.GetString([.. head]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            var start = lines[0].Split(' ');
            if (start.Length != 3 || start[2] != "HTTP/1.1")
            {
                throw new FormatException($"request line '{lines[0]}'");
            }

            var headers = new Dictionary<string, string>();
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                // A repeated field is one list, as HTTP reads it (RFC 9110 §5.3): "a, b".
                var name = line[..colon].Trim().ToLowerInvariant();
                var value = line[(colon + 1)..].Trim();
                headers[name] = headers.TryGetValue(name, out var earlier) ? $"{earlier}, {value}" : value;
            }

            var length = headers.TryGetValue("content-length", out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : 0;
            var body = new byte[length];
            await stream.ReadExactlyAsync(body, cancellationToken);
            return new Exchange(client, start[0], start[1], headers, Encoding.UTF8.GetString(body));
        }

        public async Task WriteJsonAsync(int status, string json, string? retryAfter = null)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            await WriteAsync($"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {Reason(status)}\r\nContent-Type: application/json\r\n" +
                             (retryAfter is null ? "" : $"Retry-After: {retryAfter}\r\n") +
                             $"Content-Length: {bytes.Length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n");
            await _stream.WriteAsync(bytes);
        }

        /// <summary>
        /// The head of an event stream (chunked, as real servers send it). With <paramref name="keepAlive"/> the
        /// connection is offered for reuse, as Ollama and llama-server do: a client that wants it back reads the rest of
        /// an abandoned stream instead of closing it.
        /// </summary>
        public Task WriteStreamHeadAsync(bool keepAlive = false) =>
            WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
                       $"Transfer-Encoding: chunked\r\n{(keepAlive ? "" : "Connection: close\r\n")}\r\n");

        /// <summary>One event line (<c>data: …</c> unless <paramref name="raw"/>), as one HTTP chunk.</summary>
        public Task WriteEventAsync(string data, bool raw = false) =>
            WriteChunkAsync(raw ? data : $"data: {data}\n\n");

        /// <summary>A whole well-formed stream: the events, then <c>data: [DONE]</c> and the end of the body.</summary>
        public async Task WriteStreamAsync(IEnumerable<string> events, bool done = true)
        {
            await WriteStreamHeadAsync();
            foreach (var data in events)
            {
                await WriteEventAsync(data);
            }

            if (done)
            {
                await WriteEventAsync("[DONE]");
            }

            await EndBodyAsync();
        }

        public Task EndBodyAsync() => WriteAsync("0\r\n\r\n");

        /// <summary>Drops the connection at once (a reset, not a clean end), as a crashed server does.</summary>
        public void Drop()
        {
            _client.Client.LingerState = new LingerOption(true, 0);
            _client.Client.Close();
        }

        /// <summary>Whether the client closed the connection within <paramref name="within"/>.</summary>
        public async Task<bool> ClientClosedAsync(TimeSpan within)
        {
            _closed ??= WaitForCloseAsync();
            return await Task.WhenAny(_closed, Task.Delay(within)) == _closed;
        }

        private async Task<bool> WaitForCloseAsync()
        {
            var buffer = new byte[256];
            try
            {
                // The request was read whole and the client sends nothing more: any read that ends means closed.
                while (await _stream.ReadAsync(buffer) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
            }

            return true;
        }

        private async Task WriteChunkAsync(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            await WriteAsync($"{bytes.Length:x}\r\n");
            await _stream.WriteAsync(bytes);
            await WriteAsync("\r\n");
            await _stream.FlushAsync();
        }

        private async Task WriteAsync(string text) => await _stream.WriteAsync(Encoding.UTF8.GetBytes(text));

        private static string Reason(int status) => status switch
        {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            500 => "Internal Server Error",
            _ => "Status",
        };
    }
}
