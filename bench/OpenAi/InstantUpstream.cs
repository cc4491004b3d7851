using System.Text;
using MeatLizard.Bench.Relay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// An OpenAI-compatible server that streams the instant engine's answer at once: the baseline of part 2, called directly
/// and through Portkey, so each proxy's added latency is measured against the same upstream in the same run. It
/// streams like llama-server (a role chunk, one chunk per piece, each flushed, a finish chunk, <c>[DONE]</c>) and
/// ignores the request body beyond reading it.
/// </summary>
internal sealed class InstantUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InstantUpstream(WebApplication app) => _app = app;

    /// <summary>The base address, ending in a slash; its completions are at <c>v1/chat/completions</c>.</summary>
    public Uri Address { get; private init; } = null!;

    public static async Task<InstantUpstream> StartAsync()
    {
        // Its own folder as content root: the default (the working directory) is watched with its whole tree for an
        // appsettings.json this server never reads, and a run started above the bench's data woke that watcher at every
        // SQLite write (10 % of the process's perf samples when run from /tmp, where the data lies).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var (chunks, callChunks) = (Chunks(), CallChunks());
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            // Read the body as a server must, so the connection is ready for the next request; one with tools is
            // answered with the call.
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var withTools = body.GetBuffer().AsSpan(0, (int)body.Length).IndexOf("\"tools\""u8) >= 0;
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            foreach (var chunk in withTools ? callChunks : chunks)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new InstantUpstream(app) { Address = new Uri(address.TrimEnd('/') + "/") };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static byte[][] Chunks()
    {
        static string Chunk(string delta, string finish) =>
            $"data: {{\"id\":\"chatcmpl-instant\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"default\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n";

        var events = new List<string> { Chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null") };
        events.AddRange(InstantEngine.Pieces.Select(piece => Chunk($"{{\"content\":\"{piece}\"}}", "null")));
        events.Add(Chunk("{}", "\"stop\""));
        events.Add("data: [DONE]\n\n");
        return [.. events.Select(Encoding.UTF8.GetBytes)];
    }

    /// <summary>The answer to a request with tools, as llama-server streams a call: the role, the call, the finish.</summary>
    private static byte[][] CallChunks()
    {
        static string Chunk(string delta, string finish) =>
            $"data: {{\"id\":\"chatcmpl-instant\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"default\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n";

        var call = InstantEngine.Call;
        var arguments = System.Text.Json.JsonSerializer.Serialize(call.Arguments);
        return [.. new[]
        {
            Chunk("{\"role\":\"assistant\",\"content\":null}", "null"),
            Chunk($"{{\"tool_calls\":[{{\"index\":0,\"id\":\"{call.Id}\",\"type\":\"function\",\"function\":{{\"name\":\"{call.Name}\",\"arguments\":{arguments}}}}}]}}", "null"),
            Chunk("{}", "\"tool_calls\""),
            "data: [DONE]\n\n",
        }.Select(Encoding.UTF8.GetBytes)];
    }
}
