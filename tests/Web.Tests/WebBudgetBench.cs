using MeatLizard.Application.Abstractions;
using MeatLizard.Bench;
using MeatLizard.Web.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The web app's timing budgets, measured over many samples by bench/web.sh on a quiet machine: an answer's first piece
/// on screen within 50 ms (95th percentile), a 500-message chat open within 500 ms (median). ./test.sh leaves this
/// category out, as it does the soak: in a full run the browser shares the 2 cores with the other test assemblies, and
/// one sample there measured the machine (a clean-clone run saw 258 ms once, where quiet runs measured 9-11 ms and runs
/// beside the fault suite 7-26 ms).
/// </summary>
[Category(Category)]
[Parallelizable(ParallelScope.None)]
public sealed class WebBudgetBench : BrowserFixture
{
    public const string Category = "Budget";

    /// <summary>False with bench/web.sh --no-verdict: the figures are printed and the budgets not judged.</summary>
    private static bool Judged => TestContext.Parameters.Get("verdict", "true") != "false";

    private const int FirstPieceSamples = 20;
    private const int OpenSamples = 5;

    [Test]
    public async Task FirstPiece_OnScreenWithin50msOfTheEngineWritingIt_AtThe95thPercentile()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("warm up");
        await chat.WaitForAnswersAsync(1);
        var chatId = Guid.Parse(chat.Page.Url[^36..]);
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(150);
        var events = Host.Services.GetRequiredService<IChatEvents>();

        var fromEngine = new List<double>();
        var fromServer = new List<double>();
        for (var sample = 1; sample <= FirstPieceSamples; sample++)
        {
            var marker = $"piece{sample}";
            Host.Engine.Reply = _ => $"{marker} then more words";

            // The server's side: when the first piece is published to the chat's streams (the WebSocket sends it at once).
            await using var subscription = await events.SubscribeAsync(chatId, CancellationToken.None);
            var published = FirstDeltaAtAsync(subscription);

            // The page's side: the frame after the piece entered the DOM.
            await chat.WatchFirstPieceAsync(marker);
            await chat.SendAsync($"measure {sample}");
            var (_, painted) = await chat.FirstPieceOnScreenAsync();
            var publishedAt = await published;
            await chat.WaitForAnswersAsync(sample + 1);

            // One wall clock on both sides (.NET's DateTimeOffset.UtcNow, the page's timeOrigin + now()). The engine's
            // stamp comes before the relay hop, so engine→frame over-counts; the server's stamp is taken by this test's
            // own subscriber, which can be late.
            var engineAt = Host.Engine.LastFirstPieceAt ?? double.NaN;
            Assert.That(publishedAt, Is.GreaterThanOrEqualTo(engineAt), "the engine wrote the piece before the server published it");
            fromEngine.Add(painted - engineAt);
            fromServer.Add(painted - publishedAt);
        }

        TestContext.Out.WriteLine($"BUDGET first-piece-ms engine-yield→next-frame {Summary(fromEngine)}");
        TestContext.Out.WriteLine($"BUDGET first-piece-ms server-publish→next-frame {Summary(fromServer)}");
        Judge(Percentiles.Of(fromEngine, 0.95), 50, "budget: 50 ms at the 95th percentile");
    }

    [Test]
    public async Task A500MessageChat_OpensWithin500ms_AtTheMedian()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("the long chat starts here");
        await chat.WaitForAnswersAsync(1);
        await chat.AddPairsAsync(chat.Page.Url[^36..], 249); // 250 questions + 250 answers = 500 messages
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
        await chat.SendAsync("a short chat");
        await chat.WaitForAnswersAsync(1);

        var opens = new List<double>();
        for (var sample = 0; sample < OpenSamples; sample++)
        {
            // From the click on the chat to its newest message on screen (the frame after it is in the DOM).
            opens.Add(await chat.Page.EvaluateAsync<double>(@"async () => {
                const link = [...document.querySelectorAll('#chat-list .chat-open')].find(b => b.textContent === 'the long chat starts here');
                const start = performance.now();
                link.click();
                await new Promise(resolve => {
                    const check = () => [...document.querySelectorAll('#messages article.msg.user')].some(a => a.textContent.includes('question 249'))
                        ? requestAnimationFrame(() => resolve()) : requestAnimationFrame(check);
                    check();
                });
                return performance.now() - start;
            }"));
            await chat.Page.Locator("#chat-list .chat-open").Filter(new() { HasText = "a short chat" }).ClickAsync();
            await Expect(chat.Page.Locator("#messages article.msg.user").Filter(new() { HasText = "a short chat" })).ToBeVisibleAsync();
        }

        TestContext.Out.WriteLine($"BUDGET open-500-message-chat-ms {Summary(opens)}");
        Judge(Percentiles.Of(opens, 0.5), 500, "budget: 500 ms at the median");
    }

    private static async Task<double> FirstDeltaAtAsync(IChatEventSubscription subscription)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in subscription.ReadAllAsync(timeout.Token))
        {
            if (e.Type == ChatEventTypes.Delta)
            {
                return (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalMilliseconds;
            }
        }

        return double.NaN;
    }

    private static void Judge(double measured, double budget, string what)
    {
        if (Judged)
        {
            Assert.That(measured, Is.LessThanOrEqualTo(budget), what);
        }
        else
        {
            TestContext.Out.WriteLine($"BUDGET not judged ({what}; measured {measured:F1} ms)");
        }
    }

    private static string Summary(IReadOnlyCollection<double> samples)
    {
        var sorted = samples.Order().ToArray();
        return $"p50={Percentiles.OfSorted(sorted, 0.5):F1} p95={Percentiles.OfSorted(sorted, 0.95):F1} max={sorted[^1]:F1} " +
            $"(n={samples.Count}: {string.Join(' ', samples.Select(s => s.ToString("F1")))})";
    }
}
