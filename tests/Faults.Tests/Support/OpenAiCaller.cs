using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Distributed.Tests.Support;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>How a chat completion ended, as its caller saw it.</summary>
public enum CompletionSeen
{
    /// <summary>Not taken (no 2xx): nothing was promised; the caller sends a new one.</summary>
    Refused,

    /// <summary>The model's whole answer: a 200 with the message, or a stream to its finish and <c>[DONE]</c>.</summary>
    Model,

    /// <summary>Taken, then ended by an error event: no model host answered it.</summary>
    Error,

    /// <summary>Taken, then the stream broke off (its API instance died): the answer is stored all the same.</summary>
    Cut,
}

/// <summary>
/// An OpenAI client of the fault traffic: an account with an API key sending one-question chat completions to
/// <c>/v1/chat/completions</c> of either API instance, streamed or not, as the official SDK does. Each completion starts a
/// chat of the account's, found again by its owner when the database is checked.
/// </summary>
public sealed class OpenAiCaller : IDisposable
{
    private readonly HttpClient[] _clients;
    private readonly string _model;

    private OpenAiCaller(Guid userId, HttpClient[] clients, string model)
    {
        UserId = userId;
        _clients = clients;
        _model = model;
    }

    /// <summary>The account's id: its chats are the completions it sent.</summary>
    public Guid UserId { get; }

    /// <summary>Signs up at instance <paramref name="at"/>, makes an API key and reads the model the hosts serve.</summary>
    public static async Task<OpenAiCaller> SignUpAsync(IReadOnlyList<Uri> apis, int at)
    {
        using var user = await ApiUser.SignUpAsync(apis, at);
        var created = await user.At(at).PostAsJsonAsync("api/v1/auth/api-keys", new { name = "fault traffic" });
        created.EnsureSuccessStatusCode();
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        var me = await user.At(at).GetFromJsonAsync<JsonElement>("api/v1/auth/me");
        var clients = apis.Select(api => new HttpClient
        {
            BaseAddress = api,
            Timeout = TimeSpan.FromSeconds(90),
            DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        }).ToArray();
        var models = await clients[at].GetFromJsonAsync<JsonElement>("v1/models");
        var model = models.GetProperty("data")[0].GetProperty("id").GetString()!;
        return new OpenAiCaller(Guid.Parse(me.GetProperty("id").GetString()!), clients, model);
    }

    /// <summary>
    /// One completion of <paramref name="text"/> at instance <paramref name="at"/> (asking for at most
    /// <paramref name="maxTokens"/>, or the hosts' default): whether it was taken (a 2xx: its message is stored and must
    /// get its one answer), how its answer was seen, why it was not taken (or, taken and ended by an error event, that
    /// event's message), and the answer's text as the client read it (streamed: its deltas joined) when it read the
    /// model's whole answer. A refusal the faults explain (5xx, 429, no connection, no answer in time) is
    /// <see cref="CompletionSeen.Refused"/>, or <see cref="CompletionSeen.Error"/> for a 503 (no model host answered,
    /// before or after the message was stored); any other is named "unexplained". <paramref name="reading"/> is told
    /// when a streamed answer's first words are read (true) and when its stream ends (false).
    /// </summary>
    public async Task<(bool Taken, CompletionSeen Seen, string? Refusal, string? Answer)> CompleteAsync(int at, string text, bool stream,
        Action<bool>? reading = null, int? maxTokens = null)
    {
        var body = new Dictionary<string, object>
        {
            ["model"] = _model,
            ["messages"] = new[] { new { role = "user", content = text } },
            ["stream"] = stream,
        };
        if (maxTokens is { } most)
        {
            body["max_tokens"] = most;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = JsonContent.Create(body) };
        HttpResponseMessage response;
        try
        {
            response = await _clients[at].SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        }
        catch (HttpRequestException e)
        {
            return (false, CompletionSeen.Refused, e.HttpRequestError.ToString(), null);
        }
        catch (TaskCanceledException)
        {
            return (false, CompletionSeen.Refused, "timeout", null);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var code = (int)response.StatusCode;
                var name = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return response.StatusCode switch
                {
                    HttpStatusCode.ServiceUnavailable => (false, CompletionSeen.Error, $"{name}: {await ErrorMessageAsync(response)}", null),
                    HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError => (false, CompletionSeen.Refused, name, null),
                    _ => (false, CompletionSeen.Refused, $"unexplained {name}: {await response.Content.ReadAsStringAsync()}", null),
                };
            }

            try
            {
                var (seen, answer) = stream ? await ReadStreamAsync(response, reading) : await ReadAnswerAsync(response);
                return seen == CompletionSeen.Error ? (true, seen, answer, null) : (true, seen, null, answer);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                return (true, CompletionSeen.Cut, null, null);
            }
        }
    }

    private static async Task<string> ErrorMessageAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        try
        {
            return JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString() ?? body;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return body;
        }
    }

    private static async Task<(CompletionSeen, string?)> ReadAnswerAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("choices")[0].GetProperty("message").TryGetProperty("content", out var content)
            ? (CompletionSeen.Model, content.GetString())
            : throw new InvalidDataException($"A completion without its message: {body}");
    }

    private static async Task<(CompletionSeen, string?)> ReadStreamAsync(HttpResponseMessage response, Action<bool>? reading)
    {
        var words = false;
        try
        {
            return await ReadStreamAsync(response, () =>
            {
                words = true;
                reading?.Invoke(true);
            });
        }
        finally
        {
            if (words)
            {
                reading?.Invoke(false);
            }
        }
    }

    private static async Task<(CompletionSeen, string?)> ReadStreamAsync(HttpResponseMessage response, Action firstWords)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var (finished, error) = (false, (string?)null);
        var text = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue; // keep-alive comments and the blank lines between events
            }

            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                return error is not null ? (CompletionSeen.Error, error) : finished ? (CompletionSeen.Model, text.ToString())
                    : throw new InvalidDataException("A stream ended with [DONE] and no finish reason.");
            }

            using var chunk = JsonDocument.Parse(data);
            if (chunk.RootElement.TryGetProperty("error", out var failure))
            {
                error = failure.TryGetProperty("message", out var message) ? message.GetString() ?? "" : failure.ToString();
            }
            else if (chunk.RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices
                     && choices.GetArrayLength() > 0
                     && choices[0].TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
            {
                finished = true;
            }
            else if (chunk.RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } deltas
                     && deltas.GetArrayLength() > 0
                     && deltas[0].GetProperty("delta").TryGetProperty("content", out var piece)
                     && piece.ValueKind == JsonValueKind.String)
            {
                if (text.Length == 0 && piece.GetString() is { Length: > 0 })
                {
                    firstWords();
                }

                text.Append(piece.GetString());
            }
        }

        return error is not null ? (CompletionSeen.Error, error) : (CompletionSeen.Cut, null);
    }

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }
}
