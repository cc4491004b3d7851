using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Embeddings;
using MeatLizard.Application.Embeddings.Commands;
using MeatLizard.Application.Inference;
using MeatLizard.Domain.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Embeddings;

/// <summary>
/// The rules of an embeddings request (the caps, each refusal naming its field), how a batch is split over slots, the
/// vectors' base64 form, and what a host says of its embedding models in its heartbeat.
/// </summary>
public sealed class EmbeddingsRulesTests
{
    private static readonly OpenAiOptions Options = new() { MaxEmbeddingInputs = 3, MaxEmbeddingCharacters = 10 };

    [Test]
    public void Check_TakesARequestWithinTheCaps() =>
        Assert.DoesNotThrow(() => CreateEmbeddingsHandler.Check(new CreateEmbeddings(["abc", "de", "fghij"], "m", 8), Options));

    [TestCase(new string[0], "m", null, "input", TestName = "Check_NoInput_IsRefusedNamingInput")]
    [TestCase(new[] { "a", "b", "c", "d" }, "m", null, "input", TestName = "Check_MoreInputsThanTheCap_IsRefusedNamingInput")]
    [TestCase(new[] { "abcdef", "ghijk" }, "m", null, "input", TestName = "Check_MoreCharactersThanTheCap_IsRefusedNamingInput")]
    [TestCase(new[] { "a", "" }, "m", null, "input", TestName = "Check_AnEmptyText_IsRefusedNamingInput")]
    [TestCase(new[] { "a" }, "not a model name", null, "model", TestName = "Check_ABadModelName_IsRefusedNamingModel")]
    [TestCase(new[] { "a" }, "m", 0, "dimensions", TestName = "Check_NoDimensions_IsRefusedNamingDimensions")]
    public void Check_Refuses(string[] inputs, string model, int? dimensions, string field)
    {
        var refused = Assert.Throws<DomainException>(() =>
            CreateEmbeddingsHandler.Check(new CreateEmbeddings(inputs, model, dimensions), Options))!;

        Assert.That(refused.Field, Is.EqualTo(field));
        Assert.That(refused.Kind, Is.EqualTo(DomainErrorKind.Invalid));
    }

    [TestCase(1, 4, new[] { 1 })]
    [TestCase(10, 4, new[] { 3, 3, 2, 2 })]
    [TestCase(3, 8, new[] { 1, 1, 1 })]
    [TestCase(130, 1, new[] { 44, 43, 43 })]
    [TestCase(130, 4, new[] { 33, 33, 32, 32 })]
    public void Split_GivesEachSlotAPart_OfAtMost64Inputs_AndNoEmptyOne(int count, int slots, int[] lengths)
    {
        var parts = RelayedEmbeddings.Split(count, slots);

        Assert.That(parts.Select(p => p.End.Value - p.Start.Value), Is.EqualTo(lengths));
        Assert.That(parts[0].Start.Value, Is.Zero);
        Assert.That(parts.Zip(parts.Skip(1)).All(pair => pair.First.End.Value == pair.Second.Start.Value), Is.True, "contiguous");
        Assert.That(parts[^1].End.Value, Is.EqualTo(count));
    }

    [Test]
    public void Vectors_RoundTripThroughBase64_ExactlyAsLittleEndianFloats()
    {
        float[] vector = [0.5f, -1.25f, float.Epsilon, 3.4028235E+38f];

        var text = EmbeddingVectors.ToBase64(vector);

        Assert.That(EmbeddingVectors.FromBase64(text), Is.EqualTo(vector));
        Assert.That(Convert.FromBase64String(text)[..4], Is.EqualTo(new byte[] { 0, 0, 0, 0x3f }), "0.5f little-endian");
        Assert.That(EmbeddingVectors.FromBase64("AAA="), Is.Null, "two bytes are no float");
        Assert.That(EmbeddingVectors.FromBase64("not base64!"), Is.Null);
    }

    [Test]
    public void Capacities_SayWhichModelsMakeEmbeddings_AnUnnamedOneBeingTheHostsFirst()
    {
        var jobs = new HostJobs();

        var named = jobs.Capacities(["chat", "embed"], null, [new EmbeddingModel("embed", 384, Dimensions: true)]);
        var unnamed = jobs.Capacities(["only"], null, [new EmbeddingModel("", 64)]);

        Assert.That(named.Select(c => (c.Name, c.Embeddings, c.EmbeddingWidth, c.Dimensions)),
            Is.EqualTo(new[] { ("chat", false, (int?)null, false), ("embed", true, (int?)384, true) }));
        Assert.That((unnamed[0].Embeddings, unnamed[0].EmbeddingWidth), Is.EqualTo((true, (int?)64)));
    }
}
