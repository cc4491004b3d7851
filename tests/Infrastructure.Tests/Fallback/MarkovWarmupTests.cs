using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.Fallback;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Fallback;

public sealed class MarkovWarmupTests
{
    [Test]
    public async Task Start_TeachesTheFallbackTheStoredModelAnswers_OldestFirst()
    {
        var reads = new Mock<IChatReadModel>();
        reads.Setup(r => r.GetModelAnswersAsync(MarkovWarmup.MaxAnswers, It.IsAny<CancellationToken>()))
            .ReturnsAsync(["newest answer", "older answer", "oldest answer"]);
        var learned = new List<string>();
        var responder = new Mock<IFallbackResponder>();
        responder.Setup(r => r.Learn(It.IsAny<string>())).Callback<string>(learned.Add);

        await RunWarmupAsync(reads.Object, responder.Object);

        Assert.That(learned, Is.EqualTo(new[] { "oldest answer", "older answer", "newest answer" }));
    }

    [Test]
    public async Task Start_WhenTheAnswersCannotBeRead_CompletesWithoutFailing()
    {
        var reads = new Mock<IChatReadModel>();
        reads.Setup(r => r.GetModelAnswersAsync(It.IsAny<int>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("database is down"));
        var responder = new Mock<IFallbackResponder>();

        var execution = await RunWarmupAsync(reads.Object, responder.Object);

        Assert.Multiple(() =>
        {
            Assert.That(execution.IsCompletedSuccessfully, Is.True);
            responder.Verify(r => r.Learn(It.IsAny<string>()), Times.Never);
        });
    }

    private static async Task<Task> RunWarmupAsync(IChatReadModel reads, IFallbackResponder responder)
    {
        var services = new ServiceCollection();
        services.AddScoped(_ => reads);
        await using var provider = services.BuildServiceProvider();
        using var warmup = new MarkovWarmup(
            provider.GetRequiredService<IServiceScopeFactory>(), responder, NullLogger<MarkovWarmup>.Instance);

        await warmup.StartAsync(CancellationToken.None);
        var execution = warmup.ExecuteTask!;
        await execution.WaitAsync(TimeSpan.FromSeconds(5));
        await warmup.StopAsync(CancellationToken.None);
        return execution;
    }
}
