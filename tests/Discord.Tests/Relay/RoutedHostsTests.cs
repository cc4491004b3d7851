using System.Collections.Concurrent;
using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Presentation.DiscordServer.Commands;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// Several model hosts over the loopback Discord, each its own client bot sharing the relay channels: the server bot
/// sends each request to one host (named inside the encrypted request, the others leave it alone), by model, spreading
/// the load; a model no host serves is told at once; a host that stops mid-answer hands the request to another, and
/// the answer is stored once.
/// </summary>
public sealed class RoutedHostsTests : TwoBotsTest
{
    [Test]
    public async Task WithTwoHostsOnline_EachMessageIsAnsweredOnce_ByOneHost_AndBothTakeAShare()
    {
        var second = Bots.AddClientBot("meatlizard-client-2");
        var secondEngine = new ScriptedEngine { DelayBetweenWords = TimeSpan.FromMilliseconds(150) };
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(150);
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await Bots.StartClientAsync(second, secondEngine);
        await Bots.WaitForWorkersAsync(2);

        var chats = new List<Guid> { await Bots.StartChatAsync() };
        for (var i = 1; i < 6; i++)
        {
            chats.Add((await Bots.SendAsync(new CreateChat($"chat {i}"))).Id);
        }

        var answers = await Task.WhenAll(chats.Select((chat, i) => Bots.AskAsync(chat, $"question {i}")));

        Assert.That(answers.Select(a => a.Source), Is.All.EqualTo("model"));
        Assert.That(Bots.Engine.Requests.Count + secondEngine.Requests.Count, Is.EqualTo(6), "each request ran on one host, not on both");
        Assert.That(Bots.Engine.Requests.Count, Is.GreaterThan(0), "the load is spread");
        Assert.That(secondEngine.Requests.Count, Is.GreaterThan(0), "the load is spread");
        foreach (var chat in chats)
        {
            var page = await Bots.SendAsync(new GetMessages(chat, null));
            Assert.That(page.Messages.Count(m => m.Role == "assistant"), Is.EqualTo(1), "one answer per message");
        }
    }

    [Test]
    public async Task ARequestGoesToAHostServingItsChatsModel_AndAModelNoHostServesIsToldAtOnce()
    {
        var second = Bots.AddClientBot("meatlizard-client-2");
        var secondEngine = new ScriptedEngine();
        Bots.PerBot[Bots.ClientBot] = new() { ["Inference:ModelName"] = "alpha" };
        Bots.PerBot[second] = new() { ["Inference:ModelName"] = "beta" };
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await Bots.StartClientAsync(second, secondEngine);
        await Bots.WaitForWorkersAsync(2);
        await Bots.StartChatAsync();

        var forBeta = (await Bots.SendAsync(new CreateChat("beta chat", Model: "beta"))).Id;
        var forAlpha = (await Bots.SendAsync(new CreateChat("alpha chat", Model: "alpha"))).Id;
        var forGamma = (await Bots.SendAsync(new CreateChat("gamma chat", Model: "gamma"))).Id;
        var beta = await Bots.AskAsync(forBeta, "one");
        var alpha = await Bots.AskAsync(forAlpha, "two");
        var timer = Stopwatch.StartNew();
        var gamma = await Bots.AskAsync(forGamma, "three");

        Assert.That((beta.Source, beta.Model), Is.EqualTo(("model", "beta")));
        Assert.That((alpha.Source, alpha.Model), Is.EqualTo(("model", "alpha")));
        Assert.That((Bots.Engine.Requests.Count, secondEngine.Requests.Count), Is.EqualTo((1, 1)), "each on the host serving its model");
        Assert.That(gamma.Source, Is.EqualTo("notice"));
        Assert.That(gamma.Content, Does.Contain("'gamma'").And.Contain("alpha, beta"));
        Assert.That(timer.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "told at once, not after the ack timeout (15 s)");
    }

    [Test]
    public async Task ThreeHosts_TwoServingAlphaAndOneServingBetaAndGammaApart_EachRequestGoesToAHostOfItsModel()
    {
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(150);
        Bots.PerBot[Bots.ClientBot] = new() { ["Inference:ModelName"] = "alpha", ["Host:HostName"] = "alpha-one" };
        var second = Bots.AddClientBot("meatlizard-client-2");
        var secondEngine = new ScriptedEngine { DelayBetweenWords = TimeSpan.FromMilliseconds(150) };
        Bots.PerBot[second] = new() { ["Inference:ModelName"] = "alpha", ["Host:HostName"] = "alpha-two" };
        var third = Bots.AddClientBot("meatlizard-client-3");
        var thirdEngine = new ScriptedEngine
        {
            // One llama-server per model on this host: each model has its own slots and context.
            Health = new EngineHealth(true, null, Slots: 3, Models: ["beta", "gamma"])
            {
                Capacities = [new ModelCapacity("beta", Slots: 2, ContextSize: 8192), new ModelCapacity("gamma", Slots: 1, ContextSize: 2048)],
            },
        };
        Bots.PerBot[third] = new() { ["Host:HostName"] = "beta-gamma" };
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await Bots.StartClientAsync(second, secondEngine);
        await Bots.StartClientAsync(third, thirdEngine);
        await Bots.WaitForWorkersAsync(3);
        await Bots.StartChatAsync();

        var models = new[] { "alpha", "alpha", "alpha", "alpha", "beta", "beta", "gamma" };
        var chats = new List<Guid>();
        foreach (var (model, i) in models.Select((m, i) => (m, i)))
        {
            chats.Add((await Bots.SendAsync(new CreateChat($"chat {i}", Model: model))).Id);
        }

        var answers = await Task.WhenAll(chats.Select((chat, i) => Bots.AskAsync(chat, $"question {i}", TimeSpan.FromSeconds(60))));

        Assert.That(answers.Select(a => (a.Source, a.Model)), Is.EqualTo(models.Select(m => ("model", m))));
        Assert.That(Bots.Engine.Requests.Count + secondEngine.Requests.Count, Is.EqualTo(4), "alpha's requests ran on the alpha hosts, once each");
        Assert.That((Bots.Engine.Requests.Count, secondEngine.Requests.Count), Is.Not.EqualTo((4, 0)).And.Not.EqualTo((0, 4)), "both alpha hosts took a share");
        Assert.That(thirdEngine.Requests.Count, Is.EqualTo(3), "beta's and gamma's ran on the host that serves them");
        foreach (var chat in chats)
        {
            var page = await Bots.SendAsync(new GetMessages(chat, null));
            Assert.That(page.Messages.Count(m => m.Role == "assistant"), Is.EqualTo(1), "one answer per message");
        }

        // The heartbeats' contents as /workers shows them: every host, its models, and each apart-run model's slots.
        var status = await Bots.SendAsync(new GetAdminStatus(new AdminActor("test:1", "admin", true), "workers"));
        var workers = AdminSlashCommands.DescribeWorkers(status, DateTimeOffset.UtcNow);
        Assert.That(workers, Does.StartWith("**3 model host(s) online**"));
        Assert.That(workers, Does.Contain("**alpha-one**").And.Contain("**alpha-two**").And.Contain("**beta-gamma**"));
        Assert.That(workers, Does.Contain("beta, gamma · 0/3 slots busy"));
        Assert.That(workers, Does.Contain("◦ beta: 0/2 slots busy · context 8192").And.Contain("◦ gamma: 0/1 slots busy · context 2048"));
    }

    [Test]
    public async Task OneUsersTenQueuedMessages_DelayAnotherUsersOneMessage_ByAtMostOneSlotTurn()
    {
        var started = new ConcurrentQueue<string>();
        Bots.Engine.Health = new EngineHealth(true, null, Slots: 1);
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(100);
        Bots.Engine.Reply = r =>
        {
            started.Enqueue(r.Turns[^1].Content);
            return "one two three";
        };
        // The heavy user's first answer is held until the light message is queued: the order then shows the queue's
        // fairness from the moment the light one waits, however slowly this test's own calls arrive on a busy machine
        // (unheld, the first answer's 0.3 s could end, and the next heavy ones start, before the light one was sent).
        var lightQueued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Bots.Engine.HoldUntil = lightQueued.Task;
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await Bots.WaitForWorkersAsync(1);

        await Bots.StartChatAsync();
        for (var i = 0; i < 10; i++)
        {
            var chat = (await Bots.SendAsync(new CreateChat($"heavy {i}"))).Id;
            await Bots.SendAsync(new SendMessage(chat, $"heavy {i}"));
        }

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Engine.Requests.Count > 0, TimeSpan.FromSeconds(15)), Is.True);
        var light = await Bots.StartChatAsync();
        await Bots.SendAsync(new SendMessage(light, "light"));
        lightQueued.SetResult();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => started.Count == 11, TimeSpan.FromSeconds(60)), Is.True,
            "every message reached the host");

        var order = started.ToList();
        Assert.That(order.IndexOf("light"), Is.InRange(1, 2),
            $"after the heavy user's running message and at most one more, not behind all ten: {string.Join(", ", order)}");
    }

    [Test]
    public async Task AHostThatStopsMidAnswer_HandsTheRequestToAnother_AndTheAnswerIsStoredOnce()
    {
        // The first host stops running jobs at once when it shuts down: the request it had goes to the second.
        Bots.PerBot[Bots.ClientBot] = new() { ["Host:DrainDeadline"] = "00:00:00.200" };
        Bots.Engine.DelayBetweenWords = TimeSpan.FromSeconds(1);
        Bots.Engine.Reply = _ => string.Join(' ', Enumerable.Repeat("slow", 30));
        var second = Bots.AddClientBot("meatlizard-client-2");
        var secondEngine = new ScriptedEngine { Reply = _ => "from the second host" };
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();

        var asking = Bots.AskAsync(chat, "who answers?", TimeSpan.FromSeconds(60));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Engine.Requests.Count == 1, TimeSpan.FromSeconds(15)), Is.True);
        await Bots.StartClientAsync(second, secondEngine);
        await Bots.WaitForWorkersAsync(2);
        await Bots.StopClientAsync();
        var answer = await asking;

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo("from the second host"));
        Assert.That(secondEngine.Requests.Count, Is.EqualTo(1));
        var page = await Bots.SendAsync(new GetMessages(chat, null));
        Assert.That(page.Messages.Count(m => m.Role == "assistant"), Is.EqualTo(1), "stored once");
    }
}
