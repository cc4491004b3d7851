namespace MeatLizard.Tools.TestModel;

/// <summary>
/// The test model: llama architecture, 2 layers, 64-wide embeddings, 4 query heads sharing 2 key/value heads (so
/// grouped-query attention runs too), SwiGLU feed-forward of 128, output tied to the token embeddings. The token
/// embeddings are F16 (the largest tensor: vocabulary × 64), everything else F32.
/// </summary>
public sealed record TestModelSpec(
    IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata, IReadOnlyList<GgufTensor> Tensors, int VocabularySize)
{
    public const ulong DefaultSeed = 42;
    public const uint EmbeddingLength = 64;
    public const uint BlockCount = 2;
    public const uint HeadCount = 4;
    public const uint KeyValueHeadCount = 2;
    public const uint FeedForwardLength = 128;
    public const uint ContextLength = 4096;

    /// <summary>A chat template (ChatML) so llama-server's chat endpoint has one to apply; the vocabulary files carry none.</summary>
    public const string ChatTemplate =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    public static TestModelSpec Build(IReadOnlyList<KeyValuePair<string, GgufValue>> vocabulary, ulong seed)
    {
        var tokenizer = vocabulary.Where(kv => kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal)
            && kv.Key != "tokenizer.chat_template").ToList();
        var tokens = tokenizer.FirstOrDefault(kv => kv.Key == "tokenizer.ggml.tokens").Value
            ?? throw new InvalidDataException("The vocabulary file has no tokenizer.ggml.tokens.");
        var vocabularySize = ((object[])tokens.Value).Length;

        var metadata = new List<KeyValuePair<string, GgufValue>>
        {
            new("general.architecture", GgufValue.Of("llama")),
            new("general.name", GgufValue.Of("meatlizard-test-model")),
            new("general.file_type", GgufValue.Of(1u)), // mostly F16
            new("llama.vocab_size", GgufValue.Of((uint)vocabularySize)),
            new("llama.context_length", GgufValue.Of(ContextLength)),
            new("llama.embedding_length", GgufValue.Of(EmbeddingLength)),
            new("llama.block_count", GgufValue.Of(BlockCount)),
            new("llama.feed_forward_length", GgufValue.Of(FeedForwardLength)),
            new("llama.attention.head_count", GgufValue.Of(HeadCount)),
            new("llama.attention.head_count_kv", GgufValue.Of(KeyValueHeadCount)),
            new("llama.rope.dimension_count", GgufValue.Of(EmbeddingLength / HeadCount)),
            new("llama.rope.freq_base", GgufValue.Of(10000f)),
            new("llama.attention.layer_norm_rms_epsilon", GgufValue.Of(1e-5f)),
        };
        metadata.AddRange(tokenizer);
        metadata.Add(new("tokenizer.chat_template", GgufValue.Of(ChatTemplate)));

        var random = new SplitMix64(seed);
        const ulong embd = EmbeddingLength, ff = FeedForwardLength;
        var keyValueWidth = embd / HeadCount * KeyValueHeadCount;
        var tensors = new List<GgufTensor>
        {
            Random("token_embd.weight", [embd, (ulong)vocabularySize], GgmlType.F16, random),
            Ones("output_norm.weight", embd),
        };
        for (var layer = 0; layer < BlockCount; layer++)
        {
            var prefix = $"blk.{layer}.";
            tensors.Add(Ones(prefix + "attn_norm.weight", embd));
            tensors.Add(Random(prefix + "attn_q.weight", [embd, embd], GgmlType.F32, random));
            tensors.Add(Random(prefix + "attn_k.weight", [embd, keyValueWidth], GgmlType.F32, random));
            tensors.Add(Random(prefix + "attn_v.weight", [embd, keyValueWidth], GgmlType.F32, random));
            tensors.Add(Random(prefix + "attn_output.weight", [embd, embd], GgmlType.F32, random));
            tensors.Add(Ones(prefix + "ffn_norm.weight", embd));
            tensors.Add(Random(prefix + "ffn_gate.weight", [embd, ff], GgmlType.F32, random));
            tensors.Add(Random(prefix + "ffn_down.weight", [ff, embd], GgmlType.F32, random));
            tensors.Add(Random(prefix + "ffn_up.weight", [embd, ff], GgmlType.F32, random));
        }

        return new TestModelSpec(metadata, tensors, vocabularySize);
    }

    private static GgufTensor Ones(string name, ulong length) =>
        new(name, [length], GgmlType.F32, Enumerable.Repeat(1f, (int)length).ToArray());

    /// <summary>Uniform in ±0.2: large enough that the logits differ, so sampling is not a flat draw.</summary>
    private static GgufTensor Random(string name, ulong[] shape, GgmlType type, SplitMix64 random)
    {
        var data = new float[(int)shape.Aggregate(1UL, (a, b) => a * b)];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)((random.NextDouble() * 2) - 1) * 0.2f;
        }

        return new GgufTensor(name, shape, type, data);
    }
}

/// <summary>SplitMix64: a fixed, documented generator, so the model's bytes never depend on the runtime's Random.</summary>
public sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>In [0, 1), from the top 53 bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
}
