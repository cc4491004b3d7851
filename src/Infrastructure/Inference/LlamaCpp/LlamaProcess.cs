using System.Diagnostics;
using System.Text;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// A llama.cpp child process that cannot outlive us: it runs under a small /bin/sh guard that holds our end of a pipe
/// and kills the child when the pipe closes, which happens however this process ends (even on SIGKILL). Stopping
/// kills the whole tree (guard and child). The last lines of stderr are kept for error messages; they are llama.cpp's
/// own log lines (the prompt is never on the command line and not echoed).
/// </summary>
public sealed partial class LlamaProcess : IAsyncDisposable
{
    // $1 is the program, the rest its arguments. The reader of our pipe (fd 3) kills the child at EOF; the guard
    // exits with the child's status.
    private const string Guard =
        "\"$@\" </dev/null & child=$!; " +
        "( while read -r _; do :; done; kill -9 $child 2>/dev/null ) <&3 & watcher=$!; " +
        "wait $child; status=$?; kill $watcher 2>/dev/null; exit $status";

    private const int StderrLinesKept = 40;

    private readonly Process _process;
    private readonly Queue<string> _stderrTail = new();
    private readonly Task _stderrPump;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LlamaProcess(Process process, Action<string>? onStderrLine)
    {
        _process = process;
        _stderrPump = Task.Run(() => PumpStderrAsync(onStderrLine));
        _process.EnableRaisingEvents = true;
        _process.Exited += (_, _) => _ = CompleteExitAsync();
        if (_process.HasExited)
        {
            _ = CompleteExitAsync();
        }
    }

    /// <summary>The guard's process id (the child is its only child).</summary>
    public int Id => _process.Id;

    public Stream StandardOutput => _process.StandardOutput.BaseStream;

    /// <summary>Completes with the exit code once the process has exited and its stderr is read.</summary>
    public Task<int> Exited => _exited.Task;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>The last lines llama.cpp wrote to stderr.</summary>
    public IReadOnlyList<string> StderrTail
    {
        get
        {
            lock (_stderrTail)
            {
                return _stderrTail.ToList();
            }
        }
    }

    /// <summary>Starts <paramref name="program"/> under the guard; the arguments never go through a shell.</summary>
    /// <param name="program">The llama.cpp binary.</param>
    /// <param name="arguments">Its arguments (visible to every local user in the process list: no secrets here).</param>
    /// <param name="onStderrLine">Receives each line it writes to stderr.</param>
    /// <param name="environment">
    /// Variables added to its environment, which only its own user can read: where secrets such as the API key go.
    /// </param>
    public static LlamaProcess Start(string program, IEnumerable<string> arguments, Action<string>? onStderrLine = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec 3<&0; {Guard}");
        start.ArgumentList.Add("llama-guard");
        start.ArgumentList.Add(program);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        return new LlamaProcess(process, onStderrLine);
    }

    /// <summary>
    /// Closes our end of the guard's pipe, exactly what happens when this process dies: the guard then kills the
    /// child. Tests use it to show that a crash of ours leaves no llama.cpp process behind.
    /// </summary>
    internal void CloseLifeline() => _process.StandardInput.Close();

    /// <summary>Kills the guard and the child, then waits (briefly) until they are gone.</summary>
    public async Task StopAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }

        await Task.WhenAny(_exited.Task, Task.Delay(TimeSpan.FromSeconds(10)));
    }

    /// <summary>
    /// llama.cpp's last error lines as one line for an error message, e.g. "prompt is too long (2428 tokens, max
    /// 508)". Its log lines look like "0.00.417.313 E llama_completion: message"; plain lines count when they say
    /// error or failed.
    /// </summary>
    public string DescribeFailure()
    {
        var errors = new List<string>();
        foreach (var line in StderrTail)
        {
            var match = ErrorLine().Match(line);
            if (match.Success)
            {
                errors.Add(match.Groups["message"].Value.Trim());
            }
            else if (line.Contains("error", StringComparison.OrdinalIgnoreCase)
                || line.Contains("failed", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(line.Trim());
            }
        }

        return string.Join(" ", errors.TakeLast(2));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\S+ E (?:[a-z_]+: )?(?<message>.+)$")]
    private static partial System.Text.RegularExpressions.Regex ErrorLine();

    private async Task PumpStderrAsync(Action<string>? onStderrLine)
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync() is { } line)
            {
                lock (_stderrTail)
                {
                    _stderrTail.Enqueue(line);
                    if (_stderrTail.Count > StderrLinesKept)
                    {
                        _stderrTail.Dequeue();
                    }
                }

                onStderrLine?.Invoke(line);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process went away.
        }
    }

    private async Task CompleteExitAsync()
    {
        await _stderrPump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        int code;
        try
        {
            code = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            code = -1;
        }

        _exited.TrySetResult(code);
    }
}
