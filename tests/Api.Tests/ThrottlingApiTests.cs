using System.Net;
using System.Reflection;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Every endpoint that costs something is limited: 429 with Retry-After and a ProblemDetails. The host trusts
/// forwarded headers from loopback here, so each client can stand for a browser at its own address.
/// </summary>
public sealed class ThrottlingApiTests
{
    private const string Password = "correct horse battery";

    [Test]
    public async Task LogIn_WrongPasswordsFromOnePlace_AreRefused_ButTheRealUserLogsInFromElsewhere()
    {
        await using var host = await BehindProxy(new()
        {
            ["RateLimits:LogInFailuresPerMinute"] = "1",
            ["RateLimits:LogInFailureBurst"] = "3",
        }).StartAsync();
        using var attacker = From(host, "203.0.113.7");
        using var owner = From(host, "198.51.100.9");
        (await owner.PostAsync("api/v1/auth/register", new { username = "ada", password = Password })).EnsureSuccessStatusCode();

        var guesses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            guesses.Add((await attacker.PostAsync("api/v1/auth/login", new { username = "ada", password = $"guess {i}" })).StatusCode);
        }

        var refused = await attacker.PostAsync("api/v1/auth/login", new { username = "ada", password = "guess 4" });
        var rightButFromThere = await attacker.PostAsync("api/v1/auth/login", new { username = "ada", password = Password });
        var owners = await owner.PostAsync("api/v1/auth/login", new { username = "ada", password = Password });
        var otherUserFromThere = await attacker.PostAsync("api/v1/auth/login", new { username = "bob", password = "guess" });

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(guesses, Has.All.EqualTo(HttpStatusCode.Unauthorized));
            await AssertTooManyAsync(refused);
            Assert.That(rightButFromThere.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(owners.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the real user elsewhere is not locked out");
            Assert.That(otherUserFromThere.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        });
    }

    [Test]
    public async Task LogIn_SuccessfulLogIns_DoNotCountAsFailures()
    {
        await using var host = await BehindProxy(new()
        {
            ["RateLimits:LogInFailuresPerMinute"] = "1",
            ["RateLimits:LogInFailureBurst"] = "2",
        }).StartAsync();
        using var client = From(host, "203.0.113.8");
        (await client.PostAsync("api/v1/auth/register", new { username = "ada", password = Password })).EnsureSuccessStatusCode();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await client.PostAsync("api/v1/auth/login", new { username = "ada", password = Password })).StatusCode);
        }

        Assert.That(statuses, Has.All.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task LogIn_BackOffGrows_FromSecondsToAMinute()
    {
        // Short bucket: 2 failures, then one a second. Long bucket: 4 failures, then one a minute. The limiter's clock
        // moves only when the test says, so a slow machine (password hashing under load) cannot refill a bucket early.
        var clock = new SteppedClock();
        await using var host = await BehindProxy(new()
        {
            ["RateLimits:LogInFailuresPerMinute"] = "60",
            ["RateLimits:LogInFailureBurst"] = "2",
            ["RateLimits:LogInSustainedFailuresPerMinute"] = "1",
            ["RateLimits:LogInSustainedFailureBurst"] = "4",
        }, services => services.AddSingleton<IRateLimiter>(provider =>
            new MemoryRateLimiter(provider.GetRequiredService<IRateLimitSettings>(), clock))).StartAsync();
        using var client = From(host, "203.0.113.9");

        async Task<HttpResponseMessage> GuessAsync() =>
            await client.PostAsync("api/v1/auth/login", new { username = "ada", password = "guess" });

        var first = await GuessAsync();
        var second = await GuessAsync();
        var tooFast = await GuessAsync();
        clock.Advance(TimeSpan.FromSeconds(1.1));
        var third = await GuessAsync();
        clock.Advance(TimeSpan.FromSeconds(1.1));
        var fourth = await GuessAsync();
        clock.Advance(TimeSpan.FromSeconds(1.1));
        var sustained = await GuessAsync();

        Assert.Multiple(() =>
        {
            Assert.That(new[] { first, second, third, fourth }.Select(r => r.StatusCode), Has.All.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(tooFast.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(tooFast.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(1)));
            Assert.That(sustained.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(sustained.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.FromSeconds(50)));
        });
    }

    [Test]
    public async Task Register_IsLimitedPerClientAddress()
    {
        await using var host = await BehindProxy(new()
        {
            ["RateLimits:RegisterPerIpPerMinute"] = "1",
            ["RateLimits:RegisterIpBurst"] = "2",
        }).StartAsync();
        using var one = From(host, "203.0.113.10");
        using var other = From(host, "203.0.113.11");

        var accepted = new[]
        {
            await one.PostAsync("api/v1/auth/register", new { username = "one1", password = Password }),
            await one.PostAsync("api/v1/auth/register", new { username = "one2", password = Password }),
        };
        var refused = await one.PostAsync("api/v1/auth/register", new { username = "one3", password = Password });
        var elsewhere = await other.PostAsync("api/v1/auth/register", new { username = "other1", password = Password });
        var notCreated = await one.PostAsync("api/v1/auth/login", new { username = "one3", password = Password });

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(accepted.Select(r => r.StatusCode), Has.All.EqualTo(HttpStatusCode.Created));
            await AssertTooManyAsync(refused);
            Assert.That(elsewhere.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(notCreated.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        });
    }

    [Test]
    public async Task PasswordChange_SharesTheLogInAttemptsPerClientAddress_BeforeHashing()
    {
        await using var host = await BehindProxy(new()
        {
            ["RateLimits:LogInPerIpPerMinute"] = "1",
            ["RateLimits:LogInIpBurst"] = "4",
        }).StartAsync();
        using var one = From(host, "203.0.113.20");
        await one.SignUpAsync(password: Password);

        var wrong = new[]
        {
            await one.PostAsync("api/v1/auth/password", new { currentPassword = "wrong guess 1", newPassword = "a new password" }),
            await one.PostAsync("api/v1/auth/password", new { currentPassword = "wrong guess 2", newPassword = "a new password" }),
            await one.PostAsync("api/v1/auth/password", new { currentPassword = "wrong guess 3", newPassword = "a new password" }),
        };
        var refused = await one.PostAsync("api/v1/auth/password", new { currentPassword = Password, newPassword = "a new password" });

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(wrong.Select(r => r.StatusCode), Has.All.EqualTo(HttpStatusCode.BadRequest));
            await AssertTooManyAsync(refused);
        });
    }

    [TestCase("ChatCreation", "api/v1/sessions")]
    [TestCase("ApiKeyCreation", "api/v1/auth/api-keys")]
    public async Task Creation_IsLimitedPerUser(string scope, string path)
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            [$"RateLimits:{scope}PerUserPerMinute"] = "1",
            [$"RateLimits:{scope}Burst"] = "2",
        }).StartAsync();
        using var client = host.NewClient();
        using var otherUser = host.NewClient();
        await client.SignUpAsync();
        await otherUser.SignUpAsync();

        var accepted = new[] { await client.PostAsync(path, new { name = "a" }), await client.PostAsync(path, new { name = "b" }) };
        var refused = await client.PostAsync(path, new { name = "c" });
        var otherUsers = await otherUser.PostAsync(path, new { name = "d" });

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(accepted.Select(r => r.StatusCode), Has.All.EqualTo(HttpStatusCode.Created));
            await AssertTooManyAsync(refused);
            Assert.That(otherUsers.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        });
    }

    [Test]
    public async Task TranscriptStore_IsLimitedPerUser_AndWritesNothingWhenRefused()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:TranscriptStorePerUserPerMinute"] = "1",
            ["RateLimits:TranscriptStoreBurst"] = "1",
        }).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();

        var stored = await client.GetAsync($"api/v1/sessions/{chat}/transcript?store=true");
        var refused = await client.GetAsync($"api/v1/sessions/{chat}/transcript?store=true");
        var plain = await client.GetAsync($"api/v1/sessions/{chat}/transcript");

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(stored.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            await AssertTooManyAsync(refused);
            Assert.That(plain.StatusCode, Is.EqualTo(HttpStatusCode.OK), "reading without storing is not limited");
            Assert.That(Directory.GetFiles(Path.Combine(host.DataRoot, "objects", "transcripts"), "*", SearchOption.AllDirectories),
                Has.Length.EqualTo(2));
        });
    }

    [Test]
    public async Task StoredTranscripts_AreDeletedAfterTheRetention()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Transcripts:LinkLifetime"] = "00:00:01",
            ["Transcripts:Retention"] = "00:00:01",
            ["Transcripts:RetentionSweepInterval"] = "00:00:00.200",
        }).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();
        var folder = Path.Combine(host.DataRoot, "objects", "transcripts");

        (await client.GetAsync($"api/v1/sessions/{chat}/transcript?store=true")).EnsureSuccessStatusCode();
        var right = Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Length;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Length > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.That(right, Is.EqualTo(2));
        Assert.That(Directory.GetFiles(folder, "*", SearchOption.AllDirectories), Is.Empty);
    }

    [Test]
    public async Task OpenStreams_AreCappedPerUser_AndAPlaceFreesWhenAStreamCloses()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:MaxOpenStreamsPerUser"] = "2",
        }).StartAsync();
        using var client = host.NewClient();
        using var otherUser = host.NewClient();
        await client.SignUpAsync();
        await otherUser.SignUpAsync();
        var chat = await client.CreateSessionAsync();
        var othersChat = await otherUser.CreateSessionAsync();

        var first = await SessionStream.OpenAsync(host.BaseAddress, chat, client.AccessToken!);
        await using var second = await SessionStream.OpenAsync(host.BaseAddress, chat, client.AccessToken!);
        using var sse = new HttpRequestMessage(HttpMethod.Get, $"api/v1/sessions/{chat}/stream");
        sse.Headers.Accept.ParseAdd("text/event-stream");
        using var third = await client.Http.SendAsync(sse, HttpCompletionOption.ResponseHeadersRead);
        await using var others = await SessionStream.OpenAsync(host.BaseAddress, othersChat, otherUser.AccessToken!);

        await first.DisposeAsync();
        var again = await RetryAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/sessions/{chat}/stream");
            request.Headers.Accept.ParseAdd("text/event-stream");
            var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.Dispose();
            return response.StatusCode;
        }, HttpStatusCode.OK);

        await AssertTooManyAsync(third);
        Assert.That(again, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task WaitingCalls_AreCappedPerUser_AndARefusedOneQueuesNothing()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:MaxWaitingCallsPerUser"] = "1",
        }).StartAsync();
        // A slow answer keeps the first call waiting while the others are tried.
        host.Engine.Reply = _ => "a slow answer";
        host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(250);
        using var client = host.NewClient();
        await client.SignUpAsync();
        var busy = await client.CreateSessionAsync();
        var other = await client.CreateSessionAsync();

        var waiting = client.PostAsync($"api/v1/sessions/{busy}/send?wait=true", new { content = "take your time" });
        await RetryAsync(async () => (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{busy}/messages")))
            .GetProperty("messages").GetArrayLength(), 1);
        var refused = await client.PostAsync($"api/v1/sessions/{other}/send?wait=true", new { content = "me too" });
        var notWaiting = await client.PostAsync($"api/v1/sessions/{other}/send", new { content = "no wait" });
        var refusedQueued = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{other}/messages")))
            .GetProperty("messages").GetArrayLength();
        var finished = await waiting;

        await AssertTooManyAsync(refused);
        Assert.Multiple(() =>
        {
            Assert.That(notWaiting.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), "calls that do not wait are not capped");
            Assert.That(refusedQueued, Is.EqualTo(1), "only the call that did not wait queued a message");
            Assert.That(finished.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        });
    }

    [Test]
    public async Task AnonymousStatusAndReady_ReadTheDatabaseAtMostOncePerSecond()
    {
        var counter = new CallCounter();
        await using var host = await new ApiHost(services: services => CallCounter.Decorate<IChatReadModel>(services, counter))
            .StartAsync();
        using var client = host.NewClient();

        counter.Reset();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            statuses.Add((await client.GetAsync(i % 2 == 0 ? "api/v1/status" : "ready")).StatusCode);
        }

        var burst = counter.Count(nameof(IChatReadModel.CountQueuedAsync));
        await Task.Delay(1100);
        (await client.GetAsync("api/v1/status")).EnsureSuccessStatusCode();
        var later = counter.Count(nameof(IChatReadModel.CountQueuedAsync));

        Assert.Multiple(() =>
        {
            Assert.That(statuses, Has.All.EqualTo(HttpStatusCode.OK));
            Assert.That(burst, Is.InRange(1, 2), "20 calls within a second or so");
            Assert.That(later, Is.EqualTo(burst + 1), "a second later the status is read afresh");
        });
    }

    [Test]
    public async Task Limits_AreSharedByTwoApiInstancesOnOneRedis()
    {
        var shared = new Dictionary<string, string?>
        {
            ["Cache:Provider"] = "Redis",
            ["ConnectionStrings:Redis"] = Required("MEATLIZARD_TEST_REDIS"),
            ["Cache:Redis:KeyPrefix"] = $"api-test:{Guid.NewGuid():N}:",
            ["RateLimits:RegisterPerIpPerMinute"] = "1",
            ["RateLimits:RegisterIpBurst"] = "2",
        };
        await using var one = await new ApiHost(shared).StartAsync();
        await using var two = await new ApiHost(shared).StartAsync();
        using var toOne = one.NewClient();
        using var toTwo = two.NewClient();

        var first = await toOne.PostAsync("api/v1/auth/register", new { username = "first", password = Password });
        var second = await toTwo.PostAsync("api/v1/auth/register", new { username = "second", password = Password });
        var third = await toOne.PostAsync("api/v1/auth/register", new { username = "third", password = Password });
        var fourth = await toTwo.PostAsync("api/v1/auth/register", new { username = "fourth", password = Password });

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            await AssertTooManyAsync(third);
            await AssertTooManyAsync(fourth);
        });
    }

    private static ApiHost BehindProxy(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        settings["ReverseProxy:KnownProxies"] = "127.0.0.1";
        return new ApiHost(settings, services: services);
    }

    /// <summary>Now, frozen; moved on only by <see cref="Advance"/>.</summary>
    private sealed class SteppedClock : IClock
    {
        private long _ticks = DateTimeOffset.UtcNow.UtcTicks;

        public DateTimeOffset UtcNow => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    /// <summary>A client whose requests arrive through the trusted proxy on behalf of <paramref name="address"/>.</summary>
    private static ApiClient From(ApiHost host, string address)
    {
        // No cookie jar: a log-in's session cookie would make later posts need the CSRF token.
        var client = new ApiClient(new HttpClient(new HttpClientHandler { UseCookies = false })
        {
            BaseAddress = host.BaseAddress,
        });
        client.Http.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        return client;
    }

    private static async Task AssertTooManyAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await ApiClient.ReadAsync(response);
        Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo(429));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("try again"));
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> attempt, T wanted)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var value = await attempt();
            if (EqualityComparer<T>.Default.Equals(value, wanted) || DateTime.UtcNow > deadline)
            {
                return value;
            }

            await Task.Delay(50);
        }
    }

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run ./test.sh, which starts the test services.");
}

/// <summary>Counts the calls made to one port by wrapping whatever the host registered for it.</summary>
public class CallCounter
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _calls = new();

    public int Count(string method) => _calls.GetValueOrDefault(method);

    public void Reset() => _calls.Clear();

    public static void Decorate<T>(IServiceCollection services, CallCounter counter)
        where T : class
    {
        var original = services.Last(d => d.ServiceType == typeof(T));
        services.Add(new ServiceDescriptor(typeof(T), provider =>
        {
            var inner = (T)(original.ImplementationInstance
                            ?? original.ImplementationFactory?.Invoke(provider)
                            ?? ActivatorUtilities.CreateInstance(provider, original.ImplementationType!));
            var proxy = DispatchProxy.Create<T, CountingProxy>();
            ((CountingProxy)(object)proxy).Set(inner, counter);
            return proxy;
        }, original.Lifetime));
    }

    public class CountingProxy : DispatchProxy
    {
        private object _inner = null!;
        private CallCounter _counter = null!;

        internal void Set(object inner, CallCounter counter) => (_inner, _counter) = (inner, counter);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            _counter._calls.AddOrUpdate(targetMethod!.Name, 1, (_, n) => n + 1);
            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
                throw;
            }
        }
    }
}
