using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>
/// One of the product's hosts (a built Presentation.* dll from the test's output folder) as a real child process,
/// configured by environment variables the way an operator configures it. Its output is kept for failure messages.
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Every line, when MEATLIZARD_HOST_LOG_DIR names a folder (the soak sets it): a fault minutes into a long run is
    // explained by what the processes logged then, long gone from the last lines kept in memory.
    private readonly StreamWriter? _log;

    private HostProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        if (Environment.GetEnvironmentVariable("MEATLIZARD_HOST_LOG_DIR") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            var file = string.Concat(name.Select(c => char.IsLetterOrDigit(c) ? c : '-')) + ".log";
            _log = new StreamWriter(new FileStream(Path.Combine(folder, file), FileMode.Append, FileAccess.Write,
                FileShare.ReadWrite)) { AutoFlush = true };
            _log.WriteLine($"{DateTime.UtcNow:O} --- {name} started, pid {process.Id}");
        }
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The operating system's process id.</summary>
    public int Id => _process.Id;

    /// <summary>
    /// kill -9 of this process alone, as a crash or the OOM killer does it: no shutdown, nothing flushed, children (a
    /// client bot's llama-server) left to themselves. Returns once the process is gone.
    /// </summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
    }

    /// <summary>The last lines the host printed (stdout and stderr), for assertion messages.</summary>
    public string Output => string.Join(Environment.NewLine, _output.TakeLast(60));

    /// <param name="arguments">After the dll: a verb (<c>hosts add NAME</c>) instead of serving.</param>
    public static HostProcess Start(string name, string assembly, string workDirectory, IReadOnlyDictionary<string, string> environment,
        params string[] arguments)
    {
        var dll = Path.Combine(TestContext.CurrentContext.TestDirectory, $"{assembly}.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = workDirectory,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Only what the test says: nothing inherited decides the environment or the configuration.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)
                                                               || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)
                                                               || k.Contains("__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        if (Environment.GetEnvironmentVariable("MEATLIZARD_HOST_LOG_DIR") is { Length: > 0 })
        {
            // Whole logs are kept to explain a fault long after it: with the product's own information lines (a job
            // started, an envelope ignored as from an earlier attempt), which a test's last lines do not need.
            start.Environment["Logging__LogLevel__MeatLizard"] = "Information";
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {name}.");
        var host = new HostProcess(name, process);
        process.OutputDataReceived += (_, e) => host.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => host.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => host._listening.TrySetException(
            new InvalidOperationException($"{name} exited with code {process.ExitCode}:{Environment.NewLine}{host.Output}"));
        return host;
    }

    /// <summary>The address Kestrel reports once it listens (the host is started on port 0).</summary>
    public async Task<Uri> ListeningAsync(TimeSpan timeout)
    {
        try
        {
            return await _listening.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not start listening within {timeout}:{Environment.NewLine}{Output}");
        }
    }

    /// <summary>Whether the host printed <paramref name="text"/> in any of its last 500 lines.</summary>
    public bool Printed(string text) => _output.Any(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>
    /// Whether the host prints <paramref name="text"/> within <paramref name="timeout"/>: a host answers a request
    /// before its console logger has written what it logged meanwhile.
    /// </summary>
    public async Task<bool> PrintsAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Printed(text))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    /// <summary>Waits for the host to stop by itself; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        _process.WaitForExit(); // the asynchronous output readers finish
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _process.Dispose();
        if (_log is not null)
        {
            lock (_log)
            {
                _log.Dispose();
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (_log is not null)
        {
            lock (_log)
            {
                try
                {
                    _log.WriteLine($"{DateTime.UtcNow:O} {line}");
                }
                catch (ObjectDisposedException)
                {
                    // The host was disposed while its last lines came in.
                }
            }
        }

        _output.Enqueue(line);
        while (_output.Count > 500)
        {
            _output.TryDequeue(out _);
        }

        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value.TrimEnd('/') + "/"));
        }
    }

    // The address ends at a quote too: with Logging:Format=Json the line is a JSON object.
    [GeneratedRegex(@"Now listening on: (http://[^\s""]+)")]
    private static partial Regex ListeningLine();
}
