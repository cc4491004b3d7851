using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Inference.Fallback;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
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

        var reply = await responder.ReplyAsync(Alice, "What is the capital of France?", reason, CancellationToken.None);

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
            .ReplyAsync(Alice, "hi", RelayTimeoutReason.NoWorker, CancellationToken.None);

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

        var reply = await responder.ReplyAsync(Alice, prompt, RelayTimeoutReason.NoWorker, CancellationToken.None);

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
        var responder = new FallbackResponder(options, new TestRuntimeSettings(), Chains());

        var before = await responder.ReplyAsync(Alice, "hi", RelayTimeoutReason.NoAck, CancellationToken.None);
        options.CurrentValue = new FallbackOptions { Mode = FallbackMode.Markov };
        var after = await responder.ReplyAsync(Alice, "hi", RelayTimeoutReason.NoAck, CancellationToken.None);

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
        await responder.ReplyAsync(Alice, "hi", RelayTimeoutReason.NoWorker, CancellationToken.None);
        responder.Learn(Alice, "Photosynthesis turns sunlight into sugar inside green leaves.");

        var reply = await responder.ReplyAsync(
            Alice, "Explain photosynthesis please", RelayTimeoutReason.NoWorker, CancellationToken.None);

        Assert.That(reply.Content, Does.Contain("hotosynthesis"));
    }

    [Test]
    public async Task Learn_FromOneUsersChat_NeverReachesAnotherUsersReplies()
    {
        var responder = Responder(FallbackMode.Markov);
        await responder.ReplyAsync(Alice, "hi", RelayTimeoutReason.NoWorker, CancellationToken.None);
        await responder.ReplyAsync(Bob, "hi", RelayTimeoutReason.NoWorker, CancellationToken.None);
        responder.Learn(Alice, "Your locker code is quokka xylophone marmalade.");

        var bobs = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            bobs.Add((await responder.ReplyAsync(
                Bob, "What is the quokka xylophone marmalade code?", RelayTimeoutReason.NoWorker, CancellationToken.None)).Content);
        }

        var alices = await responder.ReplyAsync(
            Alice, "What is the quokka xylophone marmalade code?", RelayTimeoutReason.NoWorker, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(bobs, Has.None.Contains("xylophone").IgnoreCase.And.None.Contains("quokka").IgnoreCase.And.None.Contains("marmalade").IgnoreCase);
            Assert.That(alices.Content, Does.Contain("xylophone").IgnoreCase);
        });
    }

    [Test]
    public async Task Reply_FollowsTheAdminsChoice_OverConfiguration()
    {
        var settings = new TestRuntimeSettings();
        var responder = new FallbackResponder(
            new TestOptionsMonitor<FallbackOptions>(new FallbackOptions { Mode = FallbackMode.Inform }), settings, Chains());

        settings.Values[Application.Admin.SettingKeys.FallbackMode] = "markov";
        var markov = await responder.ReplyAsync(Alice, "hi", RelayTimeoutReason.NoWorker, CancellationToken.None);
        settings.Values[Application.Admin.SettingKeys.FallbackMode] = "not-a-mode";
        var configured = await responder.ReplyAsync(Alice, "hi", RelayTimeoutReason.NoWorker, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(markov.Source, Is.EqualTo(MessageSource.Fallback));
            Assert.That(configured.Source, Is.EqualTo(MessageSource.Notice), "an unreadable stored value falls back to configuration");
        });
    }

    [Test]
    public async Task Chains_AreKeptForAtMostMaxUsers_TheLeastRecentlyUsedEvictedFirst()
    {
        var chains = Chains();
        var first = await chains.ForAsync(Alice, CancellationToken.None);
        for (var i = 0; i < UserFallbackChains.MaxUsers + 10; i++)
        {
            await chains.ForAsync(UserId.New(), CancellationToken.None);
            await chains.ForAsync(Bob, CancellationToken.None); // Bob stays in use throughout
        }

        var bob = await chains.ForAsync(Bob, CancellationToken.None);
        var held = chains.Count;
        var bobAgain = await chains.ForAsync(Bob, CancellationToken.None);
        var aliceAgain = await chains.ForAsync(Alice, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(held, Is.EqualTo(UserFallbackChains.MaxUsers));
            Assert.That(bobAgain, Is.SameAs(bob), "kept: used recently");
            Assert.That(aliceAgain, Is.Not.SameAs(first), "evicted, so built again");
        });
    }

    private static readonly UserId Alice = UserId.New();
    private static readonly UserId Bob = UserId.New();

    private static FallbackResponder Responder(FallbackMode mode) =>
        new(new TestOptionsMonitor<FallbackOptions>(new FallbackOptions { Mode = mode }), new TestRuntimeSettings(), Chains());

    /// <summary>Chains in a host without a database: each user's starts from the corpus alone.</summary>
    private static UserFallbackChains Chains() => new(
        new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>(), new FakeClock(),
        NullLogger<UserFallbackChains>.Instance);
}
