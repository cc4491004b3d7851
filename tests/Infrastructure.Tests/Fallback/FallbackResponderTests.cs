using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Inference.Fallback;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Fallback;

public sealed class FallbackResponderTests
{
    [TestCase(RelayTimeoutReason.NoWorker, "is offline right now")]
    [TestCase(RelayTimeoutReason.NoAck, "did not respond in time")]
    [TestCase(RelayTimeoutReason.NoCompletion, "did not finish its answer in time")]
    public async Task Reply_InInformMode_IsANoticeSayingWhatHappened(RelayTimeoutReason reason, string says)
    {
        var responder = Responder(FallbackMode.Inform);

        var reply = await responder.ReplyAsync("What is the capital of France?", reason, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(reply.Source, Is.EqualTo(MessageSource.Notice));
            Assert.That(reply.Content, Does.Contain(says));
            Assert.That(reply.Content, Does.Contain("It is saved; try again later."));
        });
    }

    [Test]
    public async Task Reply_InInformModeWithNoWorker_UsesTheAgreedWording()
    {
        var reply = await Responder(FallbackMode.Inform)
            .ReplyAsync("hi", RelayTimeoutReason.NoWorker, CancellationToken.None);

        Assert.That(reply.Content, Is.EqualTo(
            "The model host is offline right now, so this message could not be answered. It is saved; try again later."));
    }

    [TestCase("")]
    [TestCase("hello")]
    [TestCase("?!?!")]
    [TestCase("completely unrelated zyxxy qwerty words")]
    public async Task Reply_InMarkovMode_IsANonEmptyFallbackReply(string prompt)
    {
        var responder = Responder(FallbackMode.Markov);

        var reply = await responder.ReplyAsync(prompt, RelayTimeoutReason.NoWorker, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(reply.Source, Is.EqualTo(MessageSource.Fallback));
            Assert.That(reply.Content, Is.Not.Empty.And.Not.EqualTo(FallbackResponder.NoWorkerNotice));
        });
    }

    [Test]
    public async Task Reply_FollowsAModeChangeAtRunTime()
    {
        var options = new TestOptionsMonitor<FallbackOptions>(new FallbackOptions { Mode = FallbackMode.Inform });
        var responder = new FallbackResponder(options, new TestRuntimeSettings());

        var before = await responder.ReplyAsync("hi", RelayTimeoutReason.NoAck, CancellationToken.None);
        options.CurrentValue = new FallbackOptions { Mode = FallbackMode.Markov };
        var after = await responder.ReplyAsync("hi", RelayTimeoutReason.NoAck, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(before.Source, Is.EqualTo(MessageSource.Notice));
            Assert.That(responder.GetModeAsync(CancellationToken.None).AsTask().Result, Is.EqualTo(FallbackMode.Markov));
            Assert.That(after.Source, Is.EqualTo(MessageSource.Fallback));
        });
    }

    [Test]
    public async Task Learn_MakesModelAnswersShapeMarkovReplies()
    {
        var responder = Responder(FallbackMode.Markov);
        responder.Learn("Photosynthesis turns sunlight into sugar inside green leaves.");

        var reply = await responder.ReplyAsync(
            "Explain photosynthesis please", RelayTimeoutReason.NoWorker, CancellationToken.None);

        Assert.That(reply.Content, Does.Contain("hotosynthesis"));
    }

    [Test]
    public async Task Reply_FollowsTheAdminsChoice_OverConfiguration()
    {
        var settings = new TestRuntimeSettings();
        var responder = new FallbackResponder(
            new TestOptionsMonitor<FallbackOptions>(new FallbackOptions { Mode = FallbackMode.Inform }), settings);

        settings.Values[Application.Admin.SettingKeys.FallbackMode] = "markov";
        var markov = await responder.ReplyAsync("hi", RelayTimeoutReason.NoWorker, CancellationToken.None);
        settings.Values[Application.Admin.SettingKeys.FallbackMode] = "not-a-mode";
        var configured = await responder.ReplyAsync("hi", RelayTimeoutReason.NoWorker, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(markov.Source, Is.EqualTo(MessageSource.Fallback));
            Assert.That(configured.Source, Is.EqualTo(MessageSource.Notice), "an unreadable stored value falls back to configuration");
        });
    }

    private static FallbackResponder Responder(FallbackMode mode) =>
        new(new TestOptionsMonitor<FallbackOptions>(new FallbackOptions { Mode = mode }), new TestRuntimeSettings());
}
