using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>The real llama.cpp build and generated test model that scripts/test-services/llama.sh provides.</summary>
internal static class LlamaTestEnvironment
{
    public static string LlamaDir => Required("MEATLIZARD_LLAMA_DIR");

    public static string ModelPath => Required("MEATLIZARD_TEST_MODEL");

    /// <summary>Options as the host would read them: the test build and model, a fixed seed, plus <paramref name="settings"/>.</summary>
    public static LlamaCppOptions Options(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Inference:LlamaCppDir"] = LlamaDir,
            ["Inference:ModelPath"] = ModelPath,
            ["Inference:ContextSize"] = "1024",
            ["Inference:MaxTokens"] = "64",
            ["Inference:Seed"] = "7",
            ["Inference:Threads"] = "2",
            ["Inference:TimeoutSeconds"] = "60",
        };
        foreach (var (key, value) in settings)
        {
            values[$"Inference:{key}"] = value;
        }

        return LlamaCppOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }

    public static InferenceRequest Request(string text = "Tell me a story about a lizard.", int? maxTokens = null,
        string? systemPrompt = "You are a helpful assistant.") =>
        new(Guid.NewGuid(), Guid.NewGuid(), null, systemPrompt, [new ChatTurn(MessageRole.User, text)], null, null, maxTokens);

    public static async Task<(string Text, int Deltas, InferenceCompleted Completed)> CollectAsync(
        IInferenceEngine engine, InferenceRequest request, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        var deltas = 0;
        InferenceCompleted? completed = null;
        await foreach (var update in engine.GenerateAsync(request, cancellationToken))
        {
            switch (update)
            {
                case InferenceDelta delta:
                    Assert.That(completed, Is.Null, "a delta came after the completion");
                    text.Append(delta.Text);
                    deltas++;
                    break;
                case InferenceCompleted done:
                    completed = done;
                    break;
            }
        }

        Assert.That(completed, Is.Not.Null, "the stream ended without a completion");
        return (text.ToString(), deltas, completed!);
    }

    /// <summary>A managed-server engine on <paramref name="options"/>.</summary>
    public static LlamaServerEngine Engine(LlamaCppOptions options) =>
        new(options, LlamaCppInstallation.Resolve(options, needsCompletionBinary: false), NullLogger<LlamaServerEngine>.Instance);

    public static List<int> ChildrenOf(int pid) =>
        ProcessTable.Descendants(pid).Where(p => p.Name == "llama-server").Select(p => p.Pid).ToList();

    public static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/stat")
        && File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][0] is not ('Z' or 'X');

    public static async Task<bool> WaitUntilDeadAsync(int pid, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set: run ./test.sh, which builds llama.cpp and the test model (scripts/test-services/llama.sh).");
}

/// <summary>The process table, read from /proc: which processes descend from this one.</summary>
internal static class ProcessTable
{
    /// <summary>(pid, command name) of every live descendant of <paramref name="root"/>.</summary>
    public static List<(int Pid, string Name)> Descendants(int root)
    {
        var parents = new Dictionary<int, (int Parent, string Name)>();
        foreach (var directory in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                if (fields[0] is "Z" or "X")
                {
                    continue;
                }

                parents[pid] = (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture),
                    stat[(stat.IndexOf('(') + 1)..close]);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // It exited while we looked.
            }
        }

        var found = new List<(int, string)>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0)
        {
            var parent = frontier.Dequeue();
            foreach (var (pid, (ppid, name)) in parents)
            {
                if (ppid == parent)
                {
                    found.Add((pid, name));
                    frontier.Enqueue(pid);
                }
            }
        }

        return found;
    }

    public static List<(int Pid, string Name)> LlamaDescendants() =>
        Descendants(Environment.ProcessId).Where(p => p.Name.StartsWith("llama-", StringComparison.Ordinal)).ToList();

    /// <summary>
    /// Waits until no descendant whose name starts with <paramref name="name"/> is left (a killed process takes a
    /// moment to go; the kernel cuts names to 15 characters: "llama-completio").
    /// </summary>
    public static async Task<List<(int Pid, string Name)>> WaitUntilGoneAsync(string name, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var left = LlamaDescendants().Where(p => p.Name.StartsWith(name, StringComparison.Ordinal)).ToList();
            if (left.Count == 0 || DateTime.UtcNow > deadline)
            {
                return left;
            }

            await Task.Delay(50);
        }
    }
}
