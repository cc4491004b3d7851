using System.Globalization;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Moq;

namespace MeatLizard.Application.Tests.Support;

/// <summary>
/// Every port a server-side handler needs, as Moq mocks backed by small in-memory stores, plus a journal that
/// records what was stored and sent in order and whether it happened inside the unit of work.
/// </summary>
public sealed partial class TestPorts
{
    private readonly Dictionary<RelayRequestId, RelayRequest> _requests = [];
    private readonly Dictionary<ChatId, Chat> _sessions = [];
    private readonly Dictionary<ChatId, IReadOnlyList<ChatTurn>> _histories = [];
    private readonly List<Message> _messages = [];
    private readonly List<ChatEvent> _published = [];
    private readonly List<IReadOnlyList<ChatEvent>> _publishedUnits = [];
    private readonly List<RelayPacket> _sentToWorkers = [];
    private readonly List<string> _journal = [];
    private readonly Dictionary<ChatId, int> _sessionVersions = [];

    // The status each request has in the store, which a handler's copy may no longer match (another process changed it).
    private readonly Dictionary<RelayRequestId, RelayRequestStatus> _storedStatus = [];

    public TestPorts()
    {
        // Made at the start, as a process's is: requests dispatched from then on are held by outages only.
        Transport = new MeatLizard.Application.Relay.RelayTransportHealth(Clock, Listening);
        Streams = new RelayStreamState(Clock);
        Reachability.Setup(r => r.IsReachableAsync(It.IsAny<CancellationToken>())).ReturnsAsync(true);
        SetUpTransaction<bool>();
        SetUpTransaction<RelayRequest>();
        SetUpTransaction<(Chat, RelayRequest)>();
        SetUpTransaction<string>();
        SetUpTransaction<MeatLizard.Application.Common.Models.UserDto>();
        SetUpTransaction<MeatLizard.Application.Admin.Commands.AdminUserChangedDto>();

        SetUpMessageStore();
        SetUpRequestStore();
        SetUpSessionStore();
        SetUpEvents();

        ServerTransport.Setup(t => t.SendAsync(It.IsAny<RelayPacket>(), It.IsAny<CancellationToken>()))
            .Callback((RelayPacket packet, CancellationToken cancellationToken) =>
            {
                // As a real transport: a send whose caller is gone does not go out.
                cancellationToken.ThrowIfCancellationRequested();
                _sentToWorkers.Add(packet);
                _journal.Add($"send:{JsonCipher.Read(packet.Wire).Envelope.Type}");
            })
            .Returns(ValueTask.CompletedTask);

        RateLimiter.Setup(r => r.TryAcquireAsync(It.IsAny<RateLimitScope>(), It.IsAny<string>(),
            It.IsAny<CancellationToken>())).ReturnsAsync(RateLimitDecision.Allow);
        Reads.Setup(r => r.GetRecentTurnsAsync(It.IsAny<ChatId>(), It.IsAny<int>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ChatId id, int _, CancellationToken _) => _histories.GetValueOrDefault(id) ?? []);
        Presence.Setup(p => p.ListAliveAsync(It.IsAny<CancellationToken>())).ReturnsAsync([]);
        Reads.Setup(r => r.CountWaitingByModelAsync(It.IsAny<CancellationToken>()))
            .ReturnsAsync(new Dictionary<string, int>());
        Fallback.Setup(f => f.GetModeAsync(It.IsAny<CancellationToken>())).ReturnsAsync(FallbackMode.Markov);
        Fallback.Setup(f => f.ReplyAsync(It.IsAny<UserId>(), It.IsAny<string>(), It.IsAny<RelayTimeoutReason>(),
                It.IsAny<CancellationToken>()))
            .ReturnsAsync(new FallbackReply("markov says hi", MessageSource.Fallback));
    }

    public FakeClock Clock { get; } = new();

    public bool InTransaction { get; private set; }

    public Mock<ICurrentUser> CurrentUser { get; } = new();

    public Mock<IUserRepository> Users { get; } = new();

    public Mock<IChatRepository> Sessions { get; } = new();

    public Mock<IMessageRepository> Messages { get; } = new();

    public Mock<IRelayRequestRepository> Requests { get; } = new();

    public Mock<IUnitOfWork> UnitOfWork { get; } = new();

    public Mock<IRateLimiter> RateLimiter { get; } = new();

    /// <summary>
    /// Runs <paramref name="handle"/> behind the pipeline's rate-limit behaviour, with these ports' limiter and caller,
    /// as the mediator runs a rate-limited request.
    /// </summary>
    public Task<TResponse> RateLimited<TRequest, TResponse>(TRequest request, Func<TRequest, Task<TResponse>> handle)
        where TRequest : IRateLimitedRequest
    {
        var services = new ServiceCollection().AddSingleton(RateLimiter.Object).AddSingleton(CurrentUser.Object);
        var behaviour = new RateLimitBehaviour<TRequest, TResponse>(services.BuildServiceProvider());
        return behaviour.Handle(request, CancellationToken.None, () => handle(request));
    }

    public Mock<IRelayQueueSignal> QueueSignal { get; } = new();

    /// <summary>The duties' leases: none on record unless a test says so (a dispatcher run's liveness lease, say).</summary>
    public Mock<IDutyLeases> DutyLeases { get; } = WithNoLeases();

    private static Mock<IDutyLeases> WithNoLeases()
    {
        var leases = new Mock<IDutyLeases>();
        leases.Setup(l => l.ListLapsedHoldersAsync(It.IsAny<string>(), It.IsAny<DateTimeOffset>(),
            It.IsAny<CancellationToken>())).ReturnsAsync([]);
        return leases;
    }

    /// <summary>Where the messages' images are kept (the dispatch reads them for the hosts).</summary>
    public Mock<IObjectStore> ObjectStore { get; } = WithNothingStored();

    /// <summary>An object store that holds nothing until a test says otherwise: its listings are empty.</summary>
    private static Mock<IObjectStore> WithNothingStored()
    {
        var store = new Mock<IObjectStore>();
        store.Setup(s => s.ListAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .Returns(AsyncEnumerable.Empty<string>());
        return store;
    }

    public Mock<IChatEvents> Events { get; } = new();

    public Mock<IChatReadModel> Reads { get; } = new();

    public Mock<IFallbackResponder> Fallback { get; } = new();

    public Mock<IMetricsRecorder> Metrics { get; } = new();

    public Mock<IUsageRecorder> Usage { get; } = new();

    public Mock<IRuntimeSettings> RuntimeSettings { get; } = new();

    public Mock<IHostPresence> Presence { get; } = new();

    public Mock<IServerRelayTransport> ServerTransport { get; } = new();

    public Mock<IEnvelopeCipher> Cipher { get; } = JsonCipher.CreateMock();

    public RelayStreamState Streams { get; }

    /// <summary>The pieces every relay server process keeps (<see cref="IAnswerPieces"/>): a test adds another's.</summary>
    public KeptAnswerPieces AnswerPieces { get; } = new();

    public RelayRequestGate Gate { get; } = new();

    public RelayOptions RelayOptions { get; } = new()
    {
        AckTimeout = TimeSpan.FromSeconds(10),
        CompletionTimeout = TimeSpan.FromSeconds(60),
    };

    public InferenceOptions InferenceOptions { get; } = new();

    /// <summary>Messages stored, in order.</summary>
    public IReadOnlyList<Message> StoredMessages => _messages;

    public IReadOnlyCollection<RelayRequest> StoredRequests => _requests.Values;

    /// <summary>Every event published, in order, whether alone or with others.</summary>
    public IReadOnlyList<ChatEvent> Published => _published;

    /// <summary>The publishes, in order, each with the events it carried (one for a single event).</summary>
    public IReadOnlyList<IReadOnlyList<ChatEvent>> PublishedUnits => _publishedUnits;

    public IReadOnlyList<RelayPacket> SentToWorkers => _sentToWorkers;

    /// <summary>What was stored and sent, in order; "(tx)" marks what happened inside the unit of work.</summary>
    public IReadOnlyList<string> Journal => _journal;

    public UserAccess Access => new(CurrentUser.Object, Users.Object, Sessions.Object);

    /// <summary>Real instruments on a meter factory of its own (nothing listens unless a test does).</summary>
    public MeatLizard.Application.Common.PlatformMetrics PlatformMetrics { get; } = new(
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(
            Microsoft.Extensions.DependencyInjection.MetricsServiceExtensions.AddMetrics(
                new Microsoft.Extensions.DependencyInjection.ServiceCollection()).BuildServiceProvider()));

    public RelayOutcomes Outcomes => Relay<RelayOutcomes>();

    /// <summary>
    /// A part of the relay core (an outcome, a dispatcher's or a packet handler's part, a handler itself) built as the
    /// hosts build it — by the Application's own registrations — over these ports: a test names the part it drives,
    /// never its constructor. One container per test; the singletons the ports hold (hosts, gate, streams, the
    /// transport's health) are these.
    /// </summary>
    public T Relay<T>() where T : notnull => (_relay ??= BuildRelay()).GetRequiredService<T>();

    private ServiceProvider? _relay;

    private ServiceProvider BuildRelay()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRelayCore().AddRelayServerHandlers();
        // The ports: registered after the core, so they stand in for its own singletons.
        services.AddSingleton(Requests.Object).AddSingleton(Messages.Object).AddSingleton(Sessions.Object)
            .AddSingleton(Fallback.Object).AddSingleton(Metrics.Object).AddSingleton(Usage.Object).AddSingleton(Events.Object)
            .AddSingleton(ServerTransport.Object).AddSingleton(Cipher.Object).AddSingleton(Presence.Object)
            .AddSingleton(QueueSignal.Object).AddSingleton(DutyLeases.Object).AddSingleton(ClosedSignal.Object).AddSingleton(Reachability.Object)
            .AddSingleton<IClock>(Clock).AddSingleton(PlatformMetrics).AddSingleton(Streams).AddSingleton(Gate)
            .AddSingleton(Transport).AddSingleton(Hosts).AddSingleton(HostRuns).AddSingleton(AnswerTimes)
            .AddSingleton(Options.Create(RelayOptions)).AddSingleton(Options.Create(InferenceOptions))
            .AddSingleton(RuntimeSettings.Object).AddSingleton<IAnswerPieces>(AnswerPieces)
            .AddSingleton(Reads.Object).AddSingleton<IAnswerCacheStore>(AnswerStore)
            .AddSingleton(Options.Create(AnswerCacheOptions)).AddSingleton(ObjectStore.Object);
        services.AddScoped<ChatModels>().AddScoped<PromptBuilder>()
            .AddScoped<MeatLizard.Application.Messages.Caching.AnswerCache>();
        return services.BuildServiceProvider();
    }

    /// <summary>The runs of the hosts heard from (<see cref="MeatLizard.Application.Relay.Hosts.HostRuns"/>); one per test.</summary>
    public MeatLizard.Application.Relay.Hosts.HostRuns HostRuns => _hostRuns ??= new(Clock);

    private MeatLizard.Application.Relay.Hosts.HostRuns? _hostRuns;

    /// <summary>How long answers took on each host; one per test.</summary>
    public MeatLizard.Application.Relay.Hosts.AnswerTimes AnswerTimes { get; } = new();

    /// <summary>What a chat that kept nothing tells the relay channel retirement once deleted.</summary>
    public Mock<IChatClosedSignal> ClosedSignal { get; } = new();

    /// <summary>Whether the relay's transport answers when asked; it does unless a test says otherwise.</summary>
    public Mock<IRelayReachability> Reachability { get; } = new();

    /// <summary>The room check before, and the event, metric and wake-up after, a question is queued.</summary>
    public MeatLizard.Application.Messages.QuestionQueue QuestionQueue => new(Reads.Object, Models,
        Options.Create(RelayOptions), Events.Object, HandOff ?? new MeatLizard.Application.Messages.DispatcherWake(QueueSignal.Object),
        PlatformMetrics, Relay<MeatLizard.Application.Messages.Caching.AnswerCache>());

    /// <summary>How a queued question goes on to a host: the dispatcher woken for it, unless a test sets another.</summary>
    public MeatLizard.Application.Messages.IQuestionHandOff? HandOff { get; set; }

    /// <summary>The answer cache's settings (off unless a test turns it on) and its entries, kept here.</summary>
    public MeatLizard.Application.Messages.Caching.AnswerCacheOptions AnswerCacheOptions { get; } = new();

    public KeptCachedAnswers AnswerStore { get; } = new();

    /// <summary>The chat's model and the default, as the runtime settings and options say.</summary>
    public MeatLizard.Application.Common.ChatModels Models => new(RuntimeSettings.Object, Options.Create(InferenceOptions));

    /// <summary>The chats this process queued a message in (<see cref="Asking"/>'s hint).</summary>
    public MeatLizard.Application.Messages.KnownChats KnownChats { get; } = new();

    /// <summary>A chat's tree and current path, read and moved when a question is asked again or a version shown.</summary>
    public Mock<IChatTree> Trees { get; } = new();

    /// <summary>The one way a question is queued, over these ports.</summary>
    public MeatLizard.Application.Messages.Asking Asking => new(Sessions.Object, Requests.Object, KnownChats,
        QuestionQueue,
        new MeatLizard.Application.Messages.NewChats(UnitOfWork.Object, Sessions.Object, Messages.Object, Requests.Object,
            RateLimiter.Object, PlatformMetrics, Clock),
        new Lazy<MeatLizard.Application.Messages.QuestionTransactions>(() => new(UnitOfWork.Object, Sessions.Object,
            Messages.Object, Requests.Object, Trees.Object, Clock)),
        Clock);

    /// <summary>Since when the relay receives from the hosts: from the start unless a test says otherwise.</summary>
    public ScriptedListening Listening { get; } = new();

    public sealed class ScriptedListening : IRelayListening
    {
        public DateTimeOffset? Since { get; set; } = DateTimeOffset.MinValue;

        public TimeSpan HostsCatchUp { get; set; }
    }

    /// <summary>The relay transport's outages as the process running the handlers saw them.</summary>
    public MeatLizard.Application.Relay.RelayTransportHealth Transport { get; }

    /// <summary>The model hosts the dispatcher places requests on, from <see cref="Presence"/>; one per test.</summary>
    public ModelHosts Hosts => _hosts ??= new ModelHosts(Presence.Object, Clock, Reach, runs: HostRuns);

    /// <summary>Which hosts this process's transport reaches (set before <see cref="Hosts"/> is first used); null: all.</summary>
    public IRelayReach? Reach { get; set; }

    public HostFailures HostFailures => Relay<HostFailures>();

    private ModelHosts? _hosts;

    public RelayCancellation Cancellation => Relay<RelayCancellation>();

    public LocalRelayControl RelayControl => new(Cancellation, Streams);

    public PromptBuilder Prompts => Relay<PromptBuilder>();

    public User SignIn(User user)
    {
        Remember(user);
        CurrentUser.Setup(c => c.Id).Returns(user.Id);
        return user;
    }

    public User Remember(User user)
    {
        Users.Setup(u => u.GetAsync(user.Id, It.IsAny<CancellationToken>())).ReturnsAsync(user);
        Users.Setup(u => u.GetByUsernameAsync(user.Username.Value, It.IsAny<CancellationToken>())).ReturnsAsync(user);
        return user;
    }

    public Chat Remember(Chat chat)
    {
        _sessions[chat.Id] = chat;
        Sessions.Setup(s => s.GetAsync(chat.Id, It.IsAny<CancellationToken>())).ReturnsAsync(chat);
        Sessions.Setup(s => s.GetWithAnswerStateAsync(chat.Id, It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => new ChatAnswerState(
                chat, _requests.Values.Any(r => r.ChatId == chat.Id && !r.IsFinished),
                SessionVersion(chat.Id)));
        return chat;
    }

    /// <summary>The stored chat's version, which <see cref="IRelayRequestRepository.TryQueueAsync"/> checks.</summary>
    public string SessionVersion(ChatId id) => _sessionVersions.GetValueOrDefault(id, 0).ToString(CultureInfo.InvariantCulture);

    /// <summary>Something changed the stored chat (another process renamed it, say): its version moves on.</summary>
    public string ChangedElsewhere(ChatId id)
    {
        _sessionVersions[id] = _sessionVersions.GetValueOrDefault(id, 0) + 1;
        return SessionVersion(id);
    }

    /// <summary>A message stored by a store set up in a test of its own.</summary>
    public void AddStoredMessage(Message message) => _messages.Add(message);

    public RelayRequest Remember(RelayRequest request)
    {
        _requests.Add(request.Id, request);
        _storedStatus[request.Id] = request.Status;
        return request;
    }

    /// <summary>The session's recent turns, as the read model returns them (oldest first).</summary>
    public void History(ChatId chatId, params ChatTurn[] turns) => _histories[chatId] = turns;

    /// <summary>
    /// What the store's claim returns: the pending requests, each with its remembered chat (null when none) and that
    /// chat's newest <paramref name="historyMessages"/> turns of its <see cref="History"/>.
    /// </summary>
    public IReadOnlyList<ClaimedRequest> Claim(int max, int historyMessages) =>
        _requests.Values.Where(r => r.Status == RelayRequestStatus.Pending).Take(max)
            .Select(r => _sessions.TryGetValue(r.ChatId, out var chat)
                ? new ClaimedRequest(r, chat,
                    (_histories.GetValueOrDefault(r.ChatId) ?? []).TakeLast(historyMessages).ToArray())
                : new ClaimedRequest(r, null, []))
            .ToList();

    /// <summary>Another process changed the stored request: copies read before still hold the old status.</summary>
    public void ChangedElsewhere(RelayRequestId id, RelayRequestStatus status) => _storedStatus[id] = status;

    public Message Remember(Message message)
    {
        _messages.Add(message);
        return message;
    }

    /// <summary>Stores the chats started (a new chat's question) as remembered ones; returns the list they go to.</summary>
    public List<Chat> RememberChatsStarted()
    {
        var started = new List<Chat>();
        Sessions.Setup(s => s.StartAsync(It.IsAny<Chat>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((Chat chat, CancellationToken _) =>
            {
                started.Add(Remember(chat));
                return SessionVersion(chat.Id);
            });
        return started;
    }

    public void WorkersOnline(params HostHealth[] workers) =>
        Presence.Setup(p => p.ListAliveAsync(It.IsAny<CancellationToken>())).ReturnsAsync(workers);

    public static HostHealth ReadyWorker(bool ready = true, bool draining = false, bool loading = false) =>
        new(Guid.NewGuid(), "scripted", ready, 0, draining, null, DateTimeOffset.UnixEpoch, loading);

    /// <summary>A host whose engine died and is being started again (its heartbeat says loading and restarting).</summary>
    public static HostHealth RestartingWorker() =>
        new(Guid.NewGuid(), "scripted", false, 0, false, "llama-server stopped and is starting again",
            DateTimeOffset.UnixEpoch, EngineLoading: true) { EngineRestarting = true };

    /// <summary>A ready host serving <paramref name="models"/> with <paramref name="slots"/> requests at once.</summary>
    public static HostHealth Host(int slots, params string[] models) =>
        new(Guid.NewGuid(), "scripted", true, 0, false, null, DateTimeOffset.UnixEpoch, Models: models, Slots: slots);

    public IEnumerable<RelayEnvelope> EnvelopesSentToWorkers =>
        _sentToWorkers.Select(p => JsonCipher.Read(p.Wire).Envelope);

    public void ClearJournal() => _journal.Clear();

    private bool TryUpdate(RelayRequest request, RelayRequestStatus expected, string with = "")
    {
        if (_storedStatus.GetValueOrDefault(request.Id, expected) != expected)
        {
            _journal.Add($"skip request:{request.Status}{(InTransaction ? " (tx)" : "")}");
            return false;
        }

        _storedStatus[request.Id] = request.Status;
        _journal.Add($"update request:{request.Status}{with}{(InTransaction ? " (tx)" : "")}");
        return true;
    }

    private void SetUpTransaction<T>()
    {
            UnitOfWork.Setup(u => u.InTransactionAsync(It.IsAny<Func<CancellationToken, Task<T>>>(),
                    It.IsAny<CancellationToken>()))
                .Returns(async (Func<CancellationToken, Task<T>> work, CancellationToken ct) =>
                {
                    _journal.Add("begin");
                    InTransaction = true;
                    try
                    {
                        var result = await work(ct);
                        _journal.Add("commit");
                        return result;
                    }
                    catch
                    {
                        _journal.Add("rollback");
                        throw;
                    }
                    finally
                    {
                        InTransaction = false;
                    }
                });
    }
}

/// <summary>Answer pieces kept in memory, as Redis keeps them for every relay server process.</summary>
public sealed class KeptAnswerPieces : IAnswerPieces
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, System.Collections.Concurrent.ConcurrentBag<(int Seq, string Text)>> _kept = new();

    public void Keep(Guid requestId, IReadOnlyList<(int Seq, string Text)> pieces)
    {
        foreach (var piece in pieces)
        {
            _kept.GetOrAdd(requestId, _ => []).Add(piece);
        }
    }

    public Task<IReadOnlyList<(int Seq, string Text)>> ReadAsync(Guid requestId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<(int Seq, string Text)>>(_kept.TryGetValue(requestId, out var kept) ? [.. kept] : []);
}

/// <summary>The answer cache's store as a dictionary: what was kept, and which request awaits which key.</summary>
public sealed class KeptCachedAnswers : IAnswerCacheStore
{
    public System.Collections.Concurrent.ConcurrentDictionary<string, CachedAnswer> Answers { get; } = new();

    public System.Collections.Concurrent.ConcurrentDictionary<Guid, string> Awaited { get; } = new();

    public Task<CachedAnswer?> FindAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult(Answers.TryGetValue(key, out var answer) ? answer : null);

    public Task KeepAsync(string key, CachedAnswer answer, CancellationToken cancellationToken)
    {
        Answers[key] = answer;
        return Task.CompletedTask;
    }

    public Task AwaitAsync(Guid requestId, string key, CancellationToken cancellationToken)
    {
        Awaited[requestId] = key;
        return Task.CompletedTask;
    }

    public Task<string?> TakeAwaitedAsync(Guid requestId, CancellationToken cancellationToken) =>
        Task.FromResult(Awaited.TryRemove(requestId, out var key) ? key : null);
}
