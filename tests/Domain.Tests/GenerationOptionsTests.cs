using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

public sealed class GenerationOptionsTests
{
    [Test]
    public void Create_KeepsWhatItIsGiven_AndNothingAskedIsNone()
    {
        var options = GenerationOptions.Create(["END"], 7, 0.5, -2, """{"type":"json_object"}""", modelOnly: true);

        Assert.That(options.Stop, Is.EqualTo(new[] { "END" }));
        Assert.That(options.Seed, Is.EqualTo(7));
        Assert.That(options.PresencePenalty, Is.EqualTo(0.5));
        Assert.That(options.FrequencyPenalty, Is.EqualTo(-2));
        Assert.That(options.ModelOnly, Is.True);
        Assert.That(options.KeepNothing, Is.False);
        Assert.That(options.IsNone, Is.False);
        Assert.That(GenerationOptions.Create().IsNone, Is.True);
        Assert.That(GenerationOptions.Create(["a", "b"]), Is.EqualTo(GenerationOptions.Create(["a", "b"])));
        Assert.That(GenerationOptions.Create(["a", "b"]), Is.Not.EqualTo(GenerationOptions.Create(["b", "a"])));
    }

    [TestCase(5, 1, "stop")]
    [TestCase(1, 0, "stop")]
    [TestCase(1, 201, "stop")]
    public void Create_RefusesStopSequences_NamingStop(int count, int length, string field)
    {
        var stop = Enumerable.Repeat(new string('x', length), count).ToList();

        var error = Assert.Throws<DomainException>(() => GenerationOptions.Create(stop));

        Assert.That(error!.Field, Is.EqualTo(field));
        Assert.That(error.Kind, Is.EqualTo(DomainErrorKind.Invalid));
    }

    [TestCase(-1L)]
    [TestCase(4_294_967_296L)]
    public void Create_RefusesASeedOutsideLlamaCppsRange(long seed) =>
        Assert.That(Assert.Throws<DomainException>(() => GenerationOptions.Create(seed: seed))!.Field, Is.EqualTo("seed"));

    [TestCase(2.01, null, "presence_penalty")]
    [TestCase(double.NaN, null, "presence_penalty")]
    [TestCase(null, -2.5, "frequency_penalty")]
    public void Create_RefusesPenaltiesOutsideMinusTwoToTwo(double? presence, double? frequency, string field) =>
        Assert.That(Assert.Throws<DomainException>(() => GenerationOptions.Create(presencePenalty: presence,
            frequencyPenalty: frequency))!.Field, Is.EqualTo(field));
}
