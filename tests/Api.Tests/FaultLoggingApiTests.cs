using System.Net;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moq;

namespace MeatLizard.Api.Tests;

/// <summary>
/// A fault — an exception answered 500, "Something went wrong on our side. It has been logged" — is logged once, with
/// its exception, wherever it was thrown. Since .NET 10 the exception handler middleware records nothing of an exception
/// an <c>IExceptionHandler</c> answered, so one thrown outside the mediator's pipeline (an endpoint, a service it calls)
/// went unlogged.
/// </summary>
public sealed class FaultLoggingApiTests
{
    [Test]
    public async Task AFaultOutsideTheMediator_IsLoggedOnce_OnTheRestApiAndOnV1()
    {
        // The callers' concurrency places are taken by the endpoints themselves, before they send a command.
        await using var host = await new ApiHost(services: services =>
            services.AddSingleton<IConcurrencyLimiter>(new BrokenLimiter())).StartAsync();
        using var owner = host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync();
        var (client, _) = await OpenAiApiTests.KeyClientAsync(host);

        var rest = await owner.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "hello" });
        var v1 = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "hello" } } });

        Assert.That((rest.StatusCode, v1.StatusCode),
            Is.EqualTo((HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError)));
        var faults = host.Logs.Entries.Where(e => e.Exception is BrokenLimiter.Fault).ToList();
        Assert.That(faults, Has.Count.EqualTo(2), string.Join("\n", host.Logs.Entries));
        Assert.That(faults.Select(e => e.Level), Is.All.EqualTo(LogLevel.Error));
    }

    [Test]
    public async Task AFaultInAHandler_IsLoggedOnce_NotAgainAtTheEdge()
    {
        var reads = new Mock<IChatReadModel>();
        reads.Setup(r => r.ListChatsAsync(It.IsAny<MeatLizard.Domain.Common.UserId>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("the read model broke"));
        await using var host = await new ApiHost(services: services => services.AddScoped(_ => reads.Object)).StartAsync();
        using var owner = host.NewClient();
        await owner.SignUpAsync();

        var response = await owner.GetAsync("api/v1/sessions");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        var faults = host.Logs.Entries.Where(e => e.Exception?.Message == "the read model broke").ToList();
        Assert.That(faults, Has.Count.EqualTo(1), string.Join("\n", host.Logs.Entries));
        Assert.That(faults[0].Message, Does.Contain("ListChats"), "logged by the mediator's pipeline, which names the request");
    }

    private sealed class BrokenLimiter : IConcurrencyLimiter
    {
        public ValueTask<IAsyncDisposable?> TryEnterAsync(ConcurrencyScope scope, string key, int limit,
            CancellationToken cancellationToken) => throw new Fault();

        public sealed class Fault() : Exception("the limiter broke");
    }
}
