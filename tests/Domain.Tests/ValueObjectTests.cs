using MeatLizard.Domain.Common;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;

namespace MeatLizard.Domain.Tests;

public class UsernameTests
{
    [TestCase("abc")]
    [TestCase("Alice_01")]
    [TestCase("a.b-c")]
    [TestCase("abcdefghijklmnopqrstuvwxyz012345")] // 32
    public void From_AcceptsThreeToThirtyTwoAllowedCharacters(string value)
    {
        Assert.That(Username.From(value).Value, Is.EqualTo(value));
        Assert.That(Username.IsValid(value), Is.True);
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("ab")]
    [TestCase("abcdefghijklmnopqrstuvwxyz0123456")] // 33
    [TestCase("has space")]
    [TestCase("slash/name")]
    [TestCase("émile")]
    [TestCase("semi;colon")]
    [TestCase("alice\n")]
    public void From_RejectsInvalidNames_AsInvalidUsernameField(string? value)
    {
        Assert.That(() => Username.From(value), Refused.As(DomainErrorKind.Invalid, "username"));
        Assert.That(Username.IsValid(value), Is.False);
    }

    [Test]
    public void From_SameText_GivesEqualValues() =>
        Assert.That(Username.From("alice"), Is.EqualTo(Username.From("alice")));
}

public class PromptTextTests
{
    [TestCase(null)]
    [TestCase("")]
    [TestCase("   ")]
    [TestCase("\n\t")]
    public void From_Blank_IsInvalidContent(string? value) =>
        Assert.That(() => PromptText.From(value), Refused.As(DomainErrorKind.Invalid, "content"));

    [Test]
    public void From_AtMaxLength_IsAccepted()
    {
        var text = new string('x', PromptText.MaxLength);

        Assert.That(PromptText.From(text).Value, Has.Length.EqualTo(16_000));
    }

    [Test]
    public void From_OneOverMaxLength_IsTooLarge() =>
        Assert.That(() => PromptText.From(new string('x', 16_001)), Refused.As(DomainErrorKind.TooLarge, "content"));

    [Test]
    public void From_KeepsTheTextAsTyped() =>
        Assert.That(PromptText.From("  hello  ").Value, Is.EqualTo("  hello  "));
}

public class ModelNameTests
{
    [TestCase("llama-3.1-8b-instruct:q4")]
    [TestCase("org/model_v2")]
    [TestCase("m")]
    public void From_AcceptsAllowedCharacters(string value) =>
        Assert.That(ModelName.From(value).Value, Is.EqualTo(value));

    [Test]
    public void From_AtMaxLength_IsAccepted() =>
        Assert.That(ModelName.From(new string('m', ModelName.MaxLength)).Value, Has.Length.EqualTo(100));

    [TestCase(null)]
    [TestCase("")]
    [TestCase("  ")]
    [TestCase("two words")]
    [TestCase("model;drop")]
    [TestCase("model\n")]
    public void From_Invalid_IsRejectedOnModelField(string? value) =>
        Assert.That(() => ModelName.From(value), Refused.As(DomainErrorKind.Invalid, "model"));

    [Test]
    public void From_OverMaxLength_IsRejected() =>
        Assert.That(() => ModelName.From(new string('m', 101)), Refused.As(DomainErrorKind.Invalid, "model"));

    [TestCase(null)]
    [TestCase("")]
    [TestCase("   ")]
    public void FromOptional_Blank_MeansNoModel(string? value) =>
        Assert.That(ModelName.FromOptional(value), Is.Null);

    [Test]
    public void FromOptional_InvalidNonBlank_IsStillRejected() =>
        Assert.That(() => ModelName.FromOptional("bad model"), Refused.As(DomainErrorKind.Invalid, "model"));
}

public class ChatTitleTests
{
    [Test]
    public void From_TrimsTheTitle() => Assert.That(ChatTitle.From("  Trip plans  ").Value, Is.EqualTo("Trip plans"));

    [TestCase(null)]
    [TestCase("")]
    [TestCase("    ")]
    public void From_Blank_IsInvalidTitle(string? value) =>
        Assert.That(() => ChatTitle.From(value), Refused.As(DomainErrorKind.Invalid, "title"));

    [Test]
    public void From_AtMaxLengthAfterTrimming_IsAccepted() =>
        Assert.That(ChatTitle.From("  " + new string('t', ChatTitle.MaxLength) + "  ").Value,
            Has.Length.EqualTo(200));

    [Test]
    public void From_OverMaxLength_IsRejected() =>
        Assert.That(() => ChatTitle.From(new string('t', 201)), Refused.As(DomainErrorKind.Invalid, "title"));

    [Test]
    public void Default_IsNewChat() => Assert.That(ChatTitle.Default.Value, Is.EqualTo("New chat"));
}

public class SystemPromptTests
{
    [TestCase(null)]
    [TestCase("")]
    [TestCase("  \n ")]
    public void FromOptional_Blank_MeansNoSystemPrompt(string? value) =>
        Assert.That(SystemPrompt.FromOptional(value), Is.Null);

    [Test]
    public void FromOptional_AtMaxLength_IsAccepted() =>
        Assert.That(SystemPrompt.FromOptional(new string('s', SystemPrompt.MaxLength))!.Value, Has.Length.EqualTo(8_000));

    [Test]
    public void FromOptional_OverMaxLength_IsInvalidSystemPrompt() =>
        Assert.That(() => SystemPrompt.FromOptional(new string('s', 8_001)),
            Refused.As(DomainErrorKind.Invalid, "systemPrompt"));
}

public class SamplingParametersTests
{
    [Test]
    public void Create_WithNothingSet_EqualsDefault()
    {
        var sampling = SamplingParameters.Create();

        Assert.That(sampling, Is.EqualTo(SamplingParameters.Default));
        Assert.That(sampling.Temperature, Is.Null);
        Assert.That(sampling.TopP, Is.Null);
        Assert.That(sampling.MaxTokens, Is.Null);
    }

    [TestCase(0.0)]
    [TestCase(0.7)]
    [TestCase(2.0)]
    public void Create_TemperatureWithinZeroToTwo_IsAccepted(double temperature) =>
        Assert.That(SamplingParameters.Create(temperature: temperature).Temperature, Is.EqualTo(temperature));

    [TestCase(-0.0001)]
    [TestCase(2.0001)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    [TestCase(double.NegativeInfinity)]
    public void Create_TemperatureOutOfRange_IsInvalidTemperature(double temperature) =>
        Assert.That(() => SamplingParameters.Create(temperature: temperature),
            Refused.As(DomainErrorKind.Invalid, "temperature"));

    [TestCase(0.0001)]
    [TestCase(0.5)]
    [TestCase(1.0)]
    public void Create_TopPAboveZeroUpToOne_IsAccepted(double topP) =>
        Assert.That(SamplingParameters.Create(topP: topP).TopP, Is.EqualTo(topP));

    [TestCase(0.0)]
    [TestCase(-0.5)]
    [TestCase(1.0001)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void Create_TopPOutOfRange_IsInvalidTopP(double topP) =>
        Assert.That(() => SamplingParameters.Create(topP: topP), Refused.As(DomainErrorKind.Invalid, "topP"));

    [TestCase(1)]
    [TestCase(512)]
    [TestCase(8_192)]
    public void Create_MaxTokensWithinOneTo8192_IsAccepted(int maxTokens) =>
        Assert.That(SamplingParameters.Create(maxTokens: maxTokens).MaxTokens, Is.EqualTo(maxTokens));

    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(8_193)]
    public void Create_MaxTokensOutOfRange_IsInvalidMaxTokens(int maxTokens) =>
        Assert.That(() => SamplingParameters.Create(maxTokens: maxTokens),
            Refused.As(DomainErrorKind.Invalid, "maxTokens"));

    [Test]
    public void Over_SetValuesWin_UnsetOnesComeFromDefaults()
    {
        var message = SamplingParameters.Create(temperature: 0.2);
        var session = SamplingParameters.Create(temperature: 1.5, topP: 0.9);

        var effective = message.Over(session);

        Assert.That(effective, Is.EqualTo(SamplingParameters.Create(0.2, 0.9, null)));
    }

    [Test]
    public void Over_AllSet_IgnoresDefaults()
    {
        var message = SamplingParameters.Create(0.1, 0.2, 3);

        Assert.That(message.Over(SamplingParameters.Create(1.0, 1.0, 100)), Is.EqualTo(message));
    }

    [Test]
    public void Over_NothingSetAnywhere_StaysUnset() =>
        Assert.That(SamplingParameters.Default.Over(SamplingParameters.Default), Is.EqualTo(SamplingParameters.Default));
}
