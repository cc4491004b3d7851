using System.Diagnostics;
using System.Globalization;
using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>
/// The cluster the fault tests run: distributed mode on PostgreSQL + Redis + S3 (two API instances and the server bot
/// as processes, the loopback Discord), relay timeouts short enough for a test, and per-user limits lifted so that
/// four users can keep 24 messages in flight.
/// </summary>
public static class FaultCluster
{
    public static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan CompletionTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The llama client bot's slots: how many answers it writes at once.</summary>
    public const int Slots = 4;

    /// <summary>
    /// The longest a chat may refuse new messages: a request unanswered ends with a notice at the completion timeout
    /// after its acknowledgement (or the ack timeout), plus the time a restarted process takes to notice it.
    /// </summary>
    public static readonly TimeSpan BlockedAtMost = AckTimeout + CompletionTimeout + TimeSpan.FromSeconds(15);

    /// <summary>How long a test waits for every request to finish once the fault is over.</summary>
    public static readonly TimeSpan SettleWithin = BlockedAtMost + TimeSpan.FromSeconds(15);

    public static Dictionary<string, string> Settings() => new()
    {
        ["Relay__AckTimeout"] = AckTimeout.ToString("c", CultureInfo.InvariantCulture),
        ["Relay__CompletionTimeout"] = CompletionTimeout.ToString("c", CultureInfo.InvariantCulture),
        // A killed server bot's claimed-but-unsent requests are claimable again after this (30 s by default): within
        // the "time a restarted process takes to notice" that BlockedAtMost allows.
        ["Relay__DispatchLease"] = "00:00:10",
        ["RateLimits__UserBurst"] = "200",
        ["RateLimits__PerUserPerMinute"] = "200",
    };

    /// <summary>The client bot as its own process on the real llama.cpp build and the generated test model.</summary>
    public static Dictionary<string, string> LlamaClientBot() => new()
    {
        ["Inference__Engine"] = "LlamaServer",
        ["Inference__LlamaCppDir"] = Required("MEATLIZARD_LLAMA_DIR"),
        ["Inference__ModelPath"] = Required("MEATLIZARD_TEST_MODEL"),
        // Four slots (1,024 tokens each): the server sends a host no more requests than it has slots, and with one the
        // whole relay round trip over Discord, not the tiny model, would set the pace of every chat.
        ["Inference__ContextSize"] = "4096",
        ["Inference__Parallel"] = Slots.ToString(CultureInfo.InvariantCulture),
        ["Inference__MaxTokens"] = "32",
        ["Inference__Threads"] = "1",
        ["Inference__Seed"] = "7",
        // A frozen llama-server is stopped and started again within the suite's ack timeout (5 s) plus a restart.
        ["Inference__HangTimeoutSeconds"] = "5",
    };

    /// <summary>
    /// The client bot process's llama-server, if one runs: its grandchild, since the engine starts it under a small
    /// shell guard that ends it when the client bot dies.
    /// </summary>
    public static int? LlamaServerOf(HostProcess clientBot) => LlamaServerUnder(clientBot.Id);

    /// <summary>A running llama-server below process <paramref name="ancestor"/>.</summary>
    public static int? LlamaServerUnder(int ancestor)
    {
        var processes = new Dictionary<int, (int Parent, string Name)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                if (fields[0] != "Z")
                {
                    processes[pid] = (int.Parse(fields[1], CultureInfo.InvariantCulture), stat[(stat.IndexOf('(') + 1)..close]);
                }
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
        }

        foreach (var (pid, (_, name)) in processes.Where(p => p.Value.Name.StartsWith("llama-server", StringComparison.Ordinal)))
        {
            for (var up = processes[pid].Parent; processes.ContainsKey(up); up = processes[up].Parent)
            {
                if (up == ancestor)
                {
                    return pid;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// kill -STOP: the process keeps its ports and connections but does nothing more, as a deadlocked one would.
    /// </summary>
    public static async Task FreezeAsync(int pid)
    {
        using var stop = Process.Start("kill", ["-STOP", pid.ToString(CultureInfo.InvariantCulture)]);
        await stop.WaitForExitAsync();
        Assert.That(stop.ExitCode, Is.Zero, $"kill -STOP {pid}");
    }

    /// <summary>Lets process <paramref name="pid"/>, stopped by <see cref="FreezeAsync"/>, run again (SIGCONT).</summary>
    public static async Task ThawAsync(int pid)
    {
        using var resume = Process.Start("kill", ["-CONT", pid.ToString(CultureInfo.InvariantCulture)]);
        await resume.WaitForExitAsync();
        Assert.That(resume.ExitCode, Is.Zero, $"kill -CONT {pid}");
    }

    /// <summary>Whether process <paramref name="pid"/> is still running (not gone, not a zombie).</summary>
    public static bool IsRunning(int pid) =>
        File.Exists($"/proc/{pid}/stat") && File.ReadAllText($"/proc/{pid}/stat") is var stat && stat[(stat.LastIndexOf(')') + 2)] != 'Z';

    /// <summary>
    /// The client-bot kill row, on either relay: a round sent, the client bot (on llama.cpp) killed -9 once a streamed
    /// completion reads its answer — its llama-server must end with it — restarted, and another round once its host is
    /// back. The caller sets how long the streamed answers are, so that the kill falls in the middle of one.
    /// </summary>
    public static async Task KillClientBotMidAnswerAsync(Cluster cluster, Traffic traffic)
    {
        var sending = traffic.SendRoundAsync("first");
        // Mid-answer: a streamed completion has read words of its answer, the web chats' answers under way beside it. (No
        // wait for a web answer first: the streamed answers may be written by then.) The completions are queued with the
        // 24 web sends on 4 slots, each request taking the relay about 3 s: a streamed one may start 45 s after the round
        // (measured: dispatched at +43 s), later on a loaded machine.
        await traffic.WaitUntilACompletionStreamsAsync(within: TimeSpan.FromSeconds(120));

        var clientBot = cluster.ClientBotProcess!;
        var llama = LlamaServerOf(clientBot);
        Assert.That(llama, Is.Not.Null, "the client bot runs a llama-server");
        await clientBot.KillAsync();

        // The engine's guard ends llama-server with the client bot: no orphan holds the model's memory.
        Assert.That(await Discord.Tests.Fake.FakeDiscordKit.EventuallyAsync(() => !IsRunning(llama!.Value), TimeSpan.FromSeconds(10)),
            Is.True, "the killed client bot's llama-server ended with it");

        await cluster.RestartAsync(clientBot);
        await sending;
        await cluster.WaitForWorkersAsync(online: true, within: TimeSpan.FromSeconds(60));
        await traffic.SendRoundAsync("second");
    }

    private static string Required(string variable)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{variable} is not set: run ./test.sh, which prepares llama.cpp (scripts/test-services/llama.sh).");
        }

        return value!;
    }
}
