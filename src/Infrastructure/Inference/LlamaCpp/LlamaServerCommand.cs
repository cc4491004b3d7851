using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// How llama-server is started for one model: on a free loopback port, with a new API key. Nothing secret goes on its
/// command line (every local user sees a process's command line): the key travels in its environment (LLAMA_API_KEY
/// is --api-key), which only its own user can read.
/// </summary>
internal static class LlamaServerCommand
{
    /// <summary>Starts llama-server under the guard (<see cref="LlamaProcess"/>); throws when it cannot be started.</summary>
    public static (LlamaProcess Process, int Port, string ApiKey) Start(LlamaCppOptions options, LlamaCppInstallation installation)
    {
        var port = FreeLoopbackPort();
        var apiKey = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var process = LlamaProcess.Start(installation.ServerPath, Arguments(options, installation, port),
            environment: new Dictionary<string, string> { ["LLAMA_API_KEY"] = apiKey });
        return (process, port, apiKey);
    }

    /// <summary>Where a llama-server listening on <paramref name="port"/> is asked.</summary>
    public static Uri BaseAddress(int port) => new($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");

    public static List<string> Arguments(LlamaCppOptions options, LlamaCppInstallation installation, int port)
    {
        var arguments = new List<string>
        {
            "--model", installation.ModelPath,
            "--host", "127.0.0.1",
            "--port", port.ToString(CultureInfo.InvariantCulture),
            // Every slot gets the full context window.
            "--ctx-size", (options.ContextSize * options.Parallel).ToString(CultureInfo.InvariantCulture),
            "--parallel", options.Parallel.ToString(CultureInfo.InvariantCulture),
            "--n-gpu-layers", options.GpuLayers.ToString(CultureInfo.InvariantCulture),
            // The model's own chat template, run as Jinja: what lets llama-server take tools and write tool calls.
            "--jinja",
        };
        if (options.Threads > 0)
        {
            arguments.AddRange(["--threads", options.Threads.ToString(CultureInfo.InvariantCulture)]);
        }

        if (options.Embeddings)
        {
            // An input is embedded in one physical batch: as large as a slot's context, so any input that fits the
            // context is taken.
            var batch = options.ContextSize.ToString(CultureInfo.InvariantCulture);
            arguments.AddRange(["--embeddings", "--batch-size", batch, "--ubatch-size", batch]);
            if (options.Pooling is { } pooling)
            {
                arguments.AddRange(["--pooling", pooling]);
            }
        }

        if (options.Mmproj is { } projector)
        {
            arguments.AddRange(["--mmproj", projector]);
        }

        arguments.AddRange(options.ExtraArgs);
        return arguments;
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
