using System.Net;
using System.Text;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// Answers an HttpClient's requests in place of a llama-server, as its README describes them (<c>/slots</c>,
/// <c>/props</c>, <c>/v1/models</c>, <c>/tokenize</c>), and keeps what was asked; for the parts of the engine that
/// only ask (the hang watch, the model's look-ups, the token counts). The answers come from <c>answer</c>.
/// </summary>
internal sealed class LlamaServerStub(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer)
    : HttpMessageHandler
{
    private readonly List<(string Path, string? Key)> _asked = [];

    public static readonly Uri BaseAddress = new("http://127.0.0.1:8080/");

    /// <summary>The paths asked, with the bearer key each carried.</summary>
    public IReadOnlyList<(string Path, string? Key)> Asked
    {
        get
        {
            lock (_asked)
            {
                return [.. _asked];
            }
        }
    }

    public static HttpResponseMessage Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    /// <summary>A llama-server that takes the question and never answers (frozen).</summary>
    public static async Task<HttpResponseMessage> Silent(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        lock (_asked)
        {
            _asked.Add((request.RequestUri!.AbsolutePath, request.Headers.Authorization?.Parameter));
        }

        return answer(request, cancellationToken);
    }
}
