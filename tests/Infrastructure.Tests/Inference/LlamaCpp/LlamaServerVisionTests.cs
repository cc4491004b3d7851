using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using MeatLizard.TestKit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// A model with a multimodal projector (<c>Inference:Mmproj</c>), against a fake llama-server: no projector can be had
/// on this machine (none can be downloaded), so the real llama-server cannot load one, and what is checked is what the
/// engine does — it starts llama-server with <c>--mmproj</c>, says the model takes images, and sends a user's images
/// as OpenAI-style <c>image_url</c> content parts after the text to <c>/v1/chat/completions</c>. The fake (a Python
/// script named llama-server) records its arguments and the body it is sent, and streams a short answer.
/// </summary>
[NonParallelizable]
public sealed class LlamaServerVisionTests
{
    private const string FakeServer = """
        #!/usr/bin/env python3
        import json, os, sys
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "args.json"), "w") as f:
            json.dump(sys.argv[1:], f)
        port = int(sys.argv[sys.argv.index("--port") + 1])
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass
            def send(self, body):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            def do_GET(self):
                if self.path == "/health":
                    self.send({"status": "ok"})
                elif self.path == "/props":
                    self.send({"chat_template_caps": {"supports_tool_calls": False}})
                elif self.path == "/v1/models":
                    self.send({"object": "list", "data": [{"id": "m", "meta": {"n_embd": 8}}]})
                elif self.path.startswith("/slots"):
                    self.send([])
                else:
                    self.send_error(404)
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/tokenize":
                    self.send({"tokens": [1, 2, 3]})
                    return
                with open(os.path.join(here, "body.json"), "wb") as f:
                    f.write(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": "I see a dot."}}]},
                              {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}}]:
                    self.wfile.write(("data: " + json.dumps(chunk) + "\n\n").encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
        ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """;

    private string _directory = null!;

    [SetUp]
    public async Task FakeLlamaServerAsync()
    {
        _directory = Directory.CreateTempSubdirectory("meatlizard-fake-llama-").FullName;
        var server = Path.Combine(_directory, "llama-server");
        await File.WriteAllTextAsync(server, FakeServer.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(server, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        await File.WriteAllBytesAsync(Path.Combine(_directory, "model.gguf"), [0]);
        await File.WriteAllBytesAsync(Path.Combine(_directory, "mmproj.gguf"), [0]);
    }

    [TearDown]
    public void Remove() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task AModelWithAProjector_StartsWithMmproj_TakesImages_AndSendsThemAsImageUrlParts()
    {
        var engine = Engine(("Mmproj", Path.Combine(_directory, "mmproj.gguf")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);

            var arguments = JsonSerializer.Deserialize<string[]>(await File.ReadAllTextAsync(Path.Combine(_directory, "args.json")))!;
            Assert.That(arguments.SkipWhile(a => a != "--mmproj").Skip(1).First(), Is.EqualTo(Path.Combine(_directory, "mmproj.gguf")));
            Assert.That((await engine.CheckHealthAsync(CancellationToken.None)).Vision, Is.EqualTo(new[] { "" }));

            var png = TurnImage.Inline("image/png", TestImages.Png);
            var gif = TurnImage.Inline("image/gif", TestImages.Gif);
            var request = new InferenceRequest(Guid.NewGuid(), Guid.NewGuid(), null, null,
                [new ChatTurn(MessageRole.User, "What are these?") { Images = [png, gif] }], null, null, 16);
            var text = new System.Text.StringBuilder();
            await foreach (var update in engine.GenerateAsync(request, CancellationToken.None))
            {
                if (update is InferenceDelta delta)
                {
                    text.Append(delta.Text);
                }
            }

            Assert.That(text.ToString(), Is.EqualTo("I see a dot."));
            using var body = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "body.json")));
            var content = body.RootElement.GetProperty("messages").EnumerateArray().Last().GetProperty("content");
            Assert.That(content.EnumerateArray().Select(p => p.GetProperty("type").GetString()),
                Is.EqualTo(new[] { "text", "image_url", "image_url" }));
            Assert.That(content[0].GetProperty("text").GetString(), Is.EqualTo("What are these?"));
            Assert.That(content[1].GetProperty("image_url").GetProperty("url").GetString(), Is.EqualTo(png.DataUrl));
            Assert.That(content[2].GetProperty("image_url").GetProperty("url").GetString(), Is.EqualTo(gif.DataUrl));
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task AModelWithoutAProjector_StartsWithoutMmproj_AndTakesNoImages()
    {
        var engine = Engine();
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);

            var arguments = JsonSerializer.Deserialize<string[]>(await File.ReadAllTextAsync(Path.Combine(_directory, "args.json")))!;
            Assert.That(arguments, Does.Not.Contain("--mmproj"));
            Assert.That((await engine.CheckHealthAsync(CancellationToken.None)).Vision, Is.Null);
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    private LlamaServerEngine Engine(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Inference:LlamaCppDir"] = _directory,
            ["Inference:ModelPath"] = Path.Combine(_directory, "model.gguf"),
            ["Inference:ContextSize"] = "1024",
            ["Inference:MaxTokens"] = "64",
            ["Inference:StartupTimeoutSeconds"] = "20",
        };
        foreach (var (key, value) in settings)
        {
            values[$"Inference:{key}"] = value;
        }

        var options = LlamaCppOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        return new LlamaServerEngine(options, LlamaCppInstallation.Resolve(options, needsCompletionBinary: false),
            NullLogger<LlamaServerEngine>.Instance);
    }
}
