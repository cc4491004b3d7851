using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// One llama-completion process answering one prompt: its stdout as deltas, then the counts and timings from its perf
/// log ("prompt eval time = … ms / N tokens", "eval time = … ms / M runs").
/// </summary>
public sealed partial class LlamaCliRun : IAsyncDisposable
{
    private readonly LlamaProcess _process;
    private readonly string _directory;
    private readonly int _maxTokens;
    private readonly int _estimatedPromptTokens;
    private readonly CancellationToken _cancellationToken;
    private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
    private readonly LlamaCliOutputFilter _filter = new();
    private readonly byte[] _buffer = new byte[4096];
    private readonly char[] _chars = new char[4096 + 4];
    private int _deltas;
    private bool _done;

    private LlamaCliRun(LlamaProcess process, string directory, ChatPrompt prompt, CancellationToken cancellationToken)
    {
        _process = process;
        _directory = directory;
        _maxTokens = prompt.MaxTokens;
        _estimatedPromptTokens = prompt.EstimatePromptTokens();
        _cancellationToken = cancellationToken;
    }

    public double PromptMilliseconds { get; private set; }

    public double PredictedMilliseconds { get; private set; }

    /// <summary>True when llama.cpp's perf lines were lost and the counts are estimates.</summary>
    public bool CountsEstimated { get; private set; }

    /// <summary>
    /// True when all the text was certainly written: the perf lines or the end-of-text marker, both logged after it,
    /// came out (llama.cpp issue 22142 can lose the end of the output).
    /// </summary>
    public bool TextComplete => !CountsEstimated || _filter.SawEndOfText;

    /// <summary>Starts llama-completion on <paramref name="prompt"/> with the non-negative <paramref name="seed"/>.</summary>
    public static async Task<LlamaCliRun> StartAsync(LlamaCppInstallation installation, LlamaCppOptions options,
        ChatPrompt prompt, long seed, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(Path.GetTempPath(), "meatlizard-llama", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        try
        {
            var (system, user) = prompt.SingleTurn();
            var userFile = Path.Combine(directory, "user.txt");
            await File.WriteAllTextAsync(userFile, user, cancellationToken);
            var arguments = new List<string>
            {
                "--model", installation.ModelPath,
                "--ctx-size", options.ContextSize.ToString(CultureInfo.InvariantCulture),
                "--n-predict", prompt.MaxTokens.ToString(CultureInfo.InvariantCulture),
                "--temp", options.Temperature.ToString(CultureInfo.InvariantCulture),
                "--top-p", options.TopP.ToString(CultureInfo.InvariantCulture),
                "--seed", seed.ToString(CultureInfo.InvariantCulture),
                "--n-gpu-layers", options.GpuLayers.ToString(CultureInfo.InvariantCulture),
                // One turn with the model's chat template, then exit; print only what the model generates.
                "--conversation", "--single-turn", "--no-display-prompt", "--simple-io", "--no-warmup",
                "--file", userFile,
            };
            if (system is not null)
            {
                var systemFile = Path.Combine(directory, "system.txt");
                await File.WriteAllTextAsync(systemFile, system, cancellationToken);
                arguments.AddRange(["--system-prompt-file", systemFile]);
            }

            if (options.Threads > 0)
            {
                arguments.AddRange(["--threads", options.Threads.ToString(CultureInfo.InvariantCulture)]);
            }

            arguments.AddRange(options.ExtraArgs);
            var process = LlamaProcess.Start(installation.CompletionPath!, arguments);
            return new LlamaCliRun(process, directory, prompt, cancellationToken);
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>The next update, or null after the completion was returned. Cancelling kills the process.</summary>
    public async Task<InferenceUpdate?> NextAsync()
    {
        if (_done)
        {
            return null;
        }

        try
        {
            while (true)
            {
                var read = await _process.StandardOutput.ReadAsync(_buffer, _cancellationToken);
                // Not flushed at the end: bytes of a character cut off there (a run that lost its end, llama.cpp issue
                // 22142) would come out as U+FFFD, which the whole answer of a rerun could never start with.
                var count = _decoder.GetChars(_buffer, 0, read, _chars, 0, flush: false);
                var text = _filter.Push(new string(_chars, 0, count), final: read == 0);
                if (text.Length > 0)
                {
                    _deltas++;
                    return new InferenceDelta(text, 1);
                }

                if (read == 0)
                {
                    break;
                }
            }

            var exitCode = await _process.Exited.WaitAsync(_cancellationToken);
            _done = true;
            if (exitCode != 0)
            {
                var detail = _process.DescribeFailure();
                throw new InferenceFailedException(
                    $"llama.cpp exited with code {exitCode.ToString(CultureInfo.InvariantCulture)}{(detail.Length > 0 ? ": " + detail : ".")}");
            }

            var (promptTokens, decodes) = ReadPerf();
            if (promptTokens is null || decodes is null)
            {
                // llama-completion logs through a background thread that it does not join at exit
                // (llama.cpp issue 22142), so its closing perf lines, and maybe the end of the text before them, are
                // sometimes lost, all of them or only the last ones: estimate instead (the engine runs it again).
                CountsEstimated = true;
                return new InferenceCompleted(_estimatedPromptTokens, Math.Min(_deltas, _maxTokens),
                    _deltas >= _maxTokens ? "length" : "stop");
            }

            // llama.cpp decodes every sampled token but the last one (the end-of-generation token, or the one that
            // reached --n-predict), so the tokens sampled are one more than its "runs".
            var completionTokens = Math.Min(decodes.Value + 1, _maxTokens);
            return new InferenceCompleted(promptTokens.Value, completionTokens, completionTokens >= _maxTokens ? "length" : "stop",
                new InferenceTimings(PromptMilliseconds, PredictedMilliseconds));
        }
        catch (OperationCanceledException)
        {
            await _process.StopAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Reads llama.cpp's perf lines: "prompt eval time = X ms / N tokens" and "eval time = X ms / M runs" (null: the
    /// line was lost).
    /// </summary>
    private (int? Prompt, int? Completion) ReadPerf()
    {
        int? prompt = null, completion = null;
        foreach (var line in _process.StderrTail)
        {
            if (PerfLine().Match(line) is { Success: true } match)
            {
                var ms = double.Parse(match.Groups["ms"].Value, CultureInfo.InvariantCulture);
                var n = int.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture);
                if (match.Groups["prompt"].Success)
                {
                    prompt = n;
                    PromptMilliseconds = ms;
                }
                else
                {
                    completion = n;
                    PredictedMilliseconds = ms;
                }
            }
        }

        return (prompt, completion);
    }

    [GeneratedRegex(@"(?<prompt>prompt )?eval time =\s*(?<ms>[0-9.]+) ms /\s*(?<n>[0-9]+) (tokens|runs)")]
    private static partial Regex PerfLine();
}
