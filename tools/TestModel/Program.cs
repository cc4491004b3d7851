using System.Globalization;
using System.Security.Cryptography;
using MeatLizard.Tools.TestModel;

// Writes a tiny llama-architecture GGUF with deterministic random weights and a real tokenizer taken from a
// ggml-vocab-*.gguf file of the llama.cpp source. Its output is gibberish, but it loads, tokenizes, generates and
// streams through llama.cpp's genuine code paths, in milliseconds per token on any CPU.
//
// Usage: MeatLizard.Tools.TestModel --vocab ggml-vocab-llama-spm.gguf --out model.gguf [--seed 42]
var options = ParseArguments(args);
if (options is null)
{
    await Console.Error.WriteLineAsync(
        "Usage: MeatLizard.Tools.TestModel --vocab <ggml-vocab-*.gguf> --out <model.gguf> [--seed <number>]");
    return 2;
}

if (!File.Exists(options.Vocab))
{
    await Console.Error.WriteLineAsync($"The vocabulary file {options.Vocab} does not exist.");
    return 1;
}

var model = TestModelSpec.Build(Gguf.ReadMetadata(options.Vocab), options.Seed);
var directory = Path.GetDirectoryName(Path.GetFullPath(options.Out))!;
Directory.CreateDirectory(directory);
var temporary = Path.Combine(directory, $".{Path.GetFileName(options.Out)}.{Environment.ProcessId}.tmp");
Gguf.Write(temporary, model.Metadata, model.Tensors);
File.Move(temporary, options.Out, overwrite: true);

await using var written = File.OpenRead(options.Out);
var hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(written));
await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
    $"Wrote {options.Out}: {written.Length / 1024} KiB, {model.Tensors.Count} tensors, vocabulary {model.VocabularySize} tokens, seed {options.Seed}, sha256 {hash}"));
Console.WriteLine(Path.GetFullPath(options.Out));
return 0;

static Options? ParseArguments(string[] args)
{
    string? vocab = null, output = null;
    ulong seed = TestModelSpec.DefaultSeed;
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        switch (args[i])
        {
            case "--vocab": vocab = args[i + 1]; break;
            case "--out": output = args[i + 1]; break;
            case "--seed" when ulong.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var parsed): seed = parsed; break;
            default: return null;
        }
    }

    return args.Length % 2 == 0 && vocab is not null && output is not null ? new Options(vocab, output, seed) : null;
}

internal sealed record Options(string Vocab, string Out, ulong Seed);
