using System.Collections.Concurrent;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Telegram.Tests.Fake;
using MeatLizard.Telegram.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Telegram.Tests.Bot;

/// <summary>
/// getUpdates offsets across restarts: the bot is stopped in the middle of a batch (some updates handled, some under
/// way, some not begun) and started again on the same database; every update is handled exactly once, in order per
/// chat, and Telegram ends up holding none.
/// </summary>
[TestFixture(TestDatabaseKind.Sqlite)]
[TestFixture(TestDatabaseKind.Postgres)]
public sealed class PollingRestartTests(TestDatabaseKind kind)
{
    private FakeTelegramServer _telegram = null!;
    private ITestDatabase _database = null!;

    [SetUp]
    public async Task SetUp()
    {
        _telegram = await FakeTelegramServer.StartAsync();
        _database = await TelegramBotHost.CreateDatabaseAsync(kind);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _telegram.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Test]
    public async Task StoppedMidBatch_ARestartHandlesEveryUpdateExactlyOnce_InOrderPerChat()
    {
        var alice = _telegram.AddUser("Alice");
        var bob = _telegram.AddUser("Bob");
        var chats = new[] { _telegram.PrivateChat(alice), _telegram.PrivateChat(bob) };
        var sent = new List<(long Chat, string Text)>();
        for (var i = 0; i < 12; i++)
        {
            var chat = chats[i % 2];
            var text = $"question {i}";
            _telegram.Say(i % 2 == 0 ? alice : bob, chat, text);
            sent.Add((chat.Id, text));
        }

        var handled = new ConcurrentQueue<(long Chat, string Text)>();
        var logs = new RecordedLogs();
        var first = await StartAsync(handled, logs);
        await Eventually.TrueAsync(() => handled.Count >= 3, "a few updates handled");
        await first.DisposeAsync();
        var handledBeforeRestart = handled.Count;
        Assert.That(handledBeforeRestart, Is.LessThan(12), "the stop came in the middle of the batch");

        // More arrive while the bot is down.
        for (var i = 12; i < 16; i++)
        {
            var text = $"question {i}";
            _telegram.Say(alice, chats[0], text);
            sent.Add((chats[0].Id, text));
        }

        await using var second = await StartAsync(handled, logs);
        await Eventually.TrueAsync(() => handled.Count >= sent.Count, "every update handled after the restart");
        await Eventually.TrueAsync(() => _telegram.UnconfirmedUpdateIds.Count == 0, "Telegram confirmed every update");
        await Task.Delay(300);

        Assert.That(handled, Is.EquivalentTo(sent), "each update handled once, none lost");
        foreach (var chat in chats)
        {
            Assert.That(handled.Where(h => h.Chat == chat.Id).Select(h => h.Text),
                Is.EqualTo(sent.Where(s => s.Chat == chat.Id).Select(s => s.Text)), "in order within a chat");
        }

        await using var scope = second.Services.CreateAsyncScope();
        var inbox = scope.ServiceProvider.GetRequiredService<ITelegramUpdateInbox>();
        Assert.That(await inbox.ReadPendingAsync(_telegram.Bot.Id.ToString(), CancellationToken.None), Is.Empty, "nothing left pending");
    }

    [Test]
    public async Task UpdatesStoredButNotHandled_BeforeACrash_AreHandledAfterTheRestart_ThoughTelegramForgotThem()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        _telegram.Say(alice, chat, "one");
        _telegram.Say(alice, chat, "two");

        // A handler that never finishes: the host dies with both updates stored and none handled.
        var blocked = new ConcurrentQueue<(long, string)>();
        var logs = new RecordedLogs();
        var stuck = await StartAsync(blocked, logs, block: true);
        await Eventually.TrueAsync(() => PendingCount(stuck) == 2, "both updates stored");
        _telegram.Say(alice, chat, "three");
        // The next poll (offset past "two") confirms both: Telegram forgets them, only our inbox has them now.
        await Eventually.TrueAsync(() => PendingCount(stuck) == 3, "the third stored");
        Assert.That(_telegram.UnconfirmedUpdateIds, Has.Count.LessThanOrEqualTo(1), "Telegram forgot the first two");
        await stuck.DisposeAsync();
        Assert.That(blocked, Is.Empty);

        var handled = new ConcurrentQueue<(long Chat, string Text)>();
        await using var restarted = await StartAsync(handled, logs);
        await Eventually.TrueAsync(() => handled.Count >= 3, "all three handled");
        await Task.Delay(300);
        Assert.That(handled.Select(h => h.Text), Is.EqualTo(new[] { "one", "two", "three" }));
    }

    [Test]
    public async Task AGracefulStop_LetsTheAnswerUnderWayFinish_AndTheRestartDoesNotHandleItAgain()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        _telegram.Say(alice, chat, "slow question");
        var handled = new ConcurrentQueue<(long Chat, string Text)>();
        var started = new ConcurrentQueue<long>();
        var logs = new RecordedLogs();
        var first = await StartAsync(handled, logs, work: TimeSpan.FromMilliseconds(800), started: started);
        await Eventually.TrueAsync(() => !started.IsEmpty, "the answer under way");
        await first.DisposeAsync();
        Assert.That(handled.Select(h => h.Text), Is.EqualTo(new[] { "slow question" }), "finished within the shutdown time");

        _telegram.Say(alice, chat, "next question");
        await using var second = await StartAsync(handled, logs);
        await Eventually.TrueAsync(() => handled.Count >= 2, "the next one handled");
        await Task.Delay(300);
        Assert.That(handled.Select(h => h.Text), Is.EqualTo(new[] { "slow question", "next question" }));
    }

    [Test]
    public async Task TwoBotsOnOneDatabase_OnePolls_NeverInConflict_AndWhenItStops_TheOtherTakesOver()
    {
        // Two server bots side by side: Telegram answers a second poller with 409 and the two would take turns
        // failing. One polls; the other takes over when it stops.
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        var handled = new ConcurrentQueue<(long Chat, string Text)>();
        var (logs, secondLogs) = (new RecordedLogs(), new RecordedLogs());
        var first = await StartAsync(handled, logs);
        await Eventually.TrueAsync(() => _telegram.Polls > 0, "the first bot polls");
        await using var second = await StartAsync(handled, secondLogs);
        _telegram.Say(alice, chat, "one");
        await Eventually.TrueAsync(() => handled.Count >= 1, "the first question handled");
        await Task.Delay(TimeSpan.FromSeconds(3)); // several long polls of 1 s
        var conflictsWhileBothRan = _telegram.PollConflicts;

        await first.DisposeAsync();
        _telegram.Say(alice, chat, "two");
        await Eventually.TrueAsync(() => handled.Count >= 2, "the second bot took over", TimeSpan.FromSeconds(30));
        await Task.Delay(300);

        Assert.Multiple(() =>
        {
            Assert.That(conflictsWhileBothRan, Is.Zero, "one bot polls at a time");
            // After the first stops, its last long poll may still be open at Telegram when the second polls: that one
            // ends 409 with nobody to read it (as at the real Bot API). The second itself is never refused.
            Assert.That(secondLogs.Lines.Where(l => l.Contains("failed (409)", StringComparison.Ordinal)), Is.Empty,
                "the second bot never got a 409");
            Assert.That(handled.Select(h => h.Text), Is.EqualTo(new[] { "one", "two" }), "each handled once");
        });
    }

    [Test]
    public async Task ABatchTheDatabaseRefusedToStore_IsAskedForAgain_AndHandledOnce()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        _telegram.Say(alice, chat, "one");
        _telegram.Say(alice, chat, "two");
        var handled = new ConcurrentQueue<(long Chat, string Text)>();
        var refusals = new[] { 2 };
        await using var host = await TelegramBotHost.StartAsync(_database, _telegram, [1], new RecordedLogs(), services =>
        {
            services.AddSingleton<ITelegramUpdateHandler>(provider => new RecordingHandler(
                handled, TimeSpan.Zero, null, provider.GetRequiredService<TelegramBotClient>(), new ConcurrentQueue<long>()));
            // The database refuses the first two attempts to store a batch (as while it restarts).
            var stored = services.Single(d => d.ServiceType == typeof(ITelegramUpdateInbox));
            services.Remove(stored);
            services.AddScoped<ITelegramUpdateInbox>(provider => new RefusingInbox(
                (ITelegramUpdateInbox)ActivatorUtilities.CreateInstance(provider, stored.ImplementationType!), refusals));
        });

        await Eventually.TrueAsync(() => handled.Count >= 2, "both handled once the database took them");
        await Task.Delay(300);
        Assert.That(refusals[0], Is.LessThan(0), "the database refused twice, then stored");
        Assert.That(handled.Select(h => h.Text), Is.EqualTo(new[] { "one", "two" }));
    }

    [Test]
    public async Task AnUpdateTheBotCannotRead_IsSkipped_AndTheOnesAroundItAreHandled()
    {
        // Before, the whole batch failed to read: polled again and again with the same offset, no update after it was
        // ever handled.
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        _telegram.Say(alice, chat, "one");
        var unreadable = _telegram.SayUnreadable(alice, chat);
        _telegram.Say(alice, chat, "two");
        var handled = new ConcurrentQueue<(long Chat, string Text)>();
        var logs = new RecordedLogs();

        await using var host = await StartAsync(handled, logs);

        await Eventually.TrueAsync(() => handled.Count >= 2, "the updates around it handled");
        await Eventually.TrueAsync(() => _telegram.UnconfirmedUpdateIds.Count == 0, "Telegram confirmed every update");
        Assert.That(handled.Select(h => h.Text), Is.EqualTo(new[] { "one", "two" }));
        Assert.That(logs.Lines.Where(l => l.Contains($"update {unreadable} could not be read", StringComparison.Ordinal)),
            Has.Exactly(1).Items);
    }

    [Test]
    public async Task AnUpdateWithoutAnId_IsSkipped_AndTheOnesAroundItAreHandled()
    {
        // Before, one without it was handled as update 0 (a second such would have collided with it), and one with it as
        // text failed its whole batch with a JsonException the poller did not expect: polling stopped for good.
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        _telegram.Say(alice, chat, "one");
        _telegram.SayWithoutUpdateId(alice, chat);
        _telegram.SayWithoutUpdateId(alice, chat, asText: true);
        _telegram.Say(alice, chat, "two");
        var handled = new ConcurrentQueue<(long Chat, string Text)>();
        var logs = new RecordedLogs();

        await using var host = await StartAsync(handled, logs);

        await Eventually.TrueAsync(() => handled.Count >= 2, "the updates around it handled");
        Assert.That(handled.Select(h => h.Text), Is.EqualTo(new[] { "one", "two" }));
        Assert.That(logs.Lines.Count(l => l.Contains("without a readable update_id", StringComparison.Ordinal)), Is.EqualTo(2));

        // Polling goes on: a later update is handled too.
        _telegram.Say(alice, chat, "three");
        await Eventually.TrueAsync(() => handled.Count >= 3, "a later update handled");
        await Eventually.TrueAsync(() => _telegram.UnconfirmedUpdateIds.Count == 0, "Telegram confirmed every update");
    }

    [Test]
    public async Task TheToken_NeverReachesTheLogs()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        _telegram.Say(alice, chat, "hello");
        _telegram.Flood(1, 1);
        var handled = new ConcurrentQueue<(long, string)>();
        var logs = new RecordedLogs();
        await using (var host = await StartAsync(handled, logs, replyWith: "hi"))
        {
            await Eventually.TrueAsync(() => _telegram.BotMessages(chat).Count == 1, "the reply, after the flood wait");
        }

        Assert.That(logs.Lines, Is.Not.Empty);
        Assert.That(logs.Lines.Where(l => l.Contains(_telegram.Token.Split(':')[1], StringComparison.Ordinal)), Is.Empty);
        Assert.That(logs.Lines.Any(l => l.Contains("429", StringComparison.Ordinal)), "the flood wait is logged (without the URL)");
    }

    private int PendingCount(TelegramBotHost host)
    {
        using var scope = host.Services.CreateScope();
        return scope.ServiceProvider.GetRequiredService<ITelegramUpdateInbox>()
            .ReadPendingAsync(_telegram.Bot.Id.ToString(), CancellationToken.None).GetAwaiter().GetResult().Count;
    }

    private Task<TelegramBotHost> StartAsync(
        ConcurrentQueue<(long, string)> handled, RecordedLogs logs, bool block = false, string? replyWith = null,
        TimeSpan? work = null, ConcurrentQueue<long>? started = null) =>
        TelegramBotHost.StartAsync(_database, _telegram, [1], logs,
            services => services.AddSingleton<ITelegramUpdateHandler>(provider =>
                new RecordingHandler(handled, block ? Timeout.InfiniteTimeSpan : work ?? TimeSpan.FromMilliseconds(150), replyWith,
                    provider.GetRequiredService<TelegramBotClient>(), started ?? new ConcurrentQueue<long>())));

    /// <summary>
    /// Records each update's chat and text once its work is done; the work takes a little while and stops when the host
    /// stops (then the update is not recorded, as an effect not finished).
    /// </summary>
    private sealed class RecordingHandler(
        ConcurrentQueue<(long, string)> handled, TimeSpan work, string? replyWith, TelegramBotClient client,
        ConcurrentQueue<long> started) : ITelegramUpdateHandler
    {
        public Task StartAsync(TelegramUser me, CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task HandleAsync(TelegramUpdate update, CancellationToken cancellationToken)
        {
            started.Enqueue(update.UpdateId);
            await Task.Delay(work, cancellationToken);
            if (update.Message is not { } message)
            {
                return; // not a message (an update the bot could not read comes as its id alone)
            }

            if (replyWith is not null)
            {
                await client.SendMessageAsync(message.Chat.Id, replyWith, message.MessageId, cancellationToken);
            }

            handled.Enqueue((message.Chat.Id, message.Text!));
        }
    }

    private sealed class RefusingInbox(ITelegramUpdateInbox inner, int[] refusalsLeft) : ITelegramUpdateInbox
    {
        public Task<long> ReadOffsetAsync(string botId, CancellationToken cancellationToken) => inner.ReadOffsetAsync(botId, cancellationToken);

        public Task AcceptAsync(string botId, IReadOnlyList<StoredTelegramUpdate> updates, long nextOffset, CancellationToken cancellationToken) =>
            Interlocked.Decrement(ref refusalsLeft[0]) >= 0
                ? throw new InvalidOperationException("database unavailable")
                : inner.AcceptAsync(botId, updates, nextOffset, cancellationToken);

        public Task<IReadOnlyList<StoredTelegramUpdate>> ReadPendingAsync(string botId, CancellationToken cancellationToken) =>
            inner.ReadPendingAsync(botId, cancellationToken);

        public Task CompleteAsync(string botId, long updateId, CancellationToken cancellationToken) =>
            inner.CompleteAsync(botId, updateId, cancellationToken);
    }
}
