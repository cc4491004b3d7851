using System.Diagnostics;
using MeatLizard.Infrastructure.Inference.LlamaCpp;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>
/// The llama.cpp binary the engine starts runs (<c>--version</c>), and the model file is a GGUF file. Where they are
/// was already checked when the host was composed (a missing one stops it with one line naming the setting).
/// </summary>
public sealed class LlamaDoctorCheck(LlamaCppInstallation installation, InfrastructureSettings settings) : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        var binary = settings.Engine == EngineKind.LlamaCli ? installation.CompletionPath! : installation.ServerPath;
        return [await BinaryAsync(binary, cancellationToken), await ModelAsync(cancellationToken)];
    }

    private static async Task<DoctorResult> BinaryAsync(string binary, CancellationToken cancellationToken)
    {
        const string check = "llama.cpp";
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--version");
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            var version = ((await output) + (await error)).Split('\n', StringSplitOptions.TrimEntries)
                .FirstOrDefault(l => l.StartsWith("version:", StringComparison.Ordinal));
            return process.ExitCode == 0
                ? DoctorResult.Pass(check, $"{binary} ({version ?? "version not reported"})")
                : DoctorResult.Fail(check, $"{binary} --version exited {process.ExitCode}",
                    "reinstall llama.cpp (brew reinstall llama.cpp, or scripts/llama.sh) or fix Inference:LlamaCppDir");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return DoctorResult.Fail(check, $"{binary} does not run: {ex.Message}",
                "make it executable, reinstall llama.cpp or fix Inference:LlamaCppDir");
        }
    }

    private async Task<DoctorResult> ModelAsync(CancellationToken cancellationToken)
    {
        const string check = "model";
        var path = installation.ModelPath;
        try
        {
            var magic = new byte[4];
            await using (var file = File.OpenRead(path))
            {
                await file.ReadExactlyAsync(magic, cancellationToken);
            }

            return magic.AsSpan().SequenceEqual("GGUF"u8)
                ? DoctorResult.Pass(check, $"{path} ({new FileInfo(path).Length / 1_048_576.0:0.#} MiB, GGUF)")
                : DoctorResult.Fail(check, $"{path} is not a GGUF file", "point Inference:ModelPath at a .gguf model");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return DoctorResult.Fail(check, $"{path} cannot be read: {ex.Message}", "fix Inference:ModelPath or the file's permissions");
        }
    }
}
