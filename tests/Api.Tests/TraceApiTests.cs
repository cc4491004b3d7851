using System.Net;
using System.Net.Http.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// A message's W3C trace, from the HTTP request through the outbox, the (encrypted, in-process) relay and the worker,
/// on each database. The client's <c>traceparent</c> is believed here (<c>Tracing:TrustClientTraceparent</c>); by
/// default it is not.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class TraceApiTests(string storage) : ApiHostFixture(storage)
{
    protected override IDictionary<string, string?> Settings =>
        new Dictionary<string, string?> { ["Tracing:TrustClientTraceparent"] = "true" };

    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string TraceParent = $"00-{TraceId}-00f067aa0ba902b7-01";

    [Test]
    public async Task Send_WithATraceParent_TheOutboxRowAndTheWorkerCarryItsTraceId()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();

        var requestId = await SendAsync(client, chat, TraceParent);
        await ChatApiTests.WaitForMessagesAsync(client, chat, 2);

        var stored = await StoredTraceParentAsync(requestId);
        Assert.Multiple(() =>
        {
            Assert.That(stored, Does.StartWith($"00-{TraceId}-"), "the outbox row holds the caller's trace");
            Assert.That(Host.Engine.TraceIdOf(requestId), Is.EqualTo(TraceId), "the worker answers inside it");
        });
    }

    [Test]
    public async Task ByDefault_AClientsTraceParent_IsNotBelieved_TheMessageGetsATraceOfItsOwn()
    {
        await using var host = await new ApiHost(storage: Storage).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();

        var requestId = await SendAsync(client, chat, TraceParent);
        await ChatApiTests.WaitForMessagesAsync(client, chat, 2);

        await using var scope = host.Services.CreateAsyncScope();
        var stored = (await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
            .GetAsync(new RelayRequestId(requestId), CancellationToken.None))?.TraceParent;
        Assert.That(stored, Does.Match("^00-[0-9a-f]{32}-"));
        Assert.That(stored, Does.Not.Contain(TraceId), "a client cannot choose the stored trace id (nor force recording)");
    }

    [Test]
    public async Task Send_WithoutATraceParent_StartsOneTrace_ThatTheWorkerContinues()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();

        var first = await SendAsync(client, chat, traceParent: null);
        await ChatApiTests.WaitForMessagesAsync(client, chat, 2);
        var second = await SendAsync(client, chat, traceParent: null);
        await ChatApiTests.WaitForMessagesAsync(client, chat, 4);

        var firstTrace = (await StoredTraceParentAsync(first))?.Split('-')[1];
        var secondTrace = (await StoredTraceParentAsync(second))?.Split('-')[1];
        Assert.Multiple(() =>
        {
            Assert.That(firstTrace, Does.Match("^[0-9a-f]{32}$").And.Not.EqualTo(new string('0', 32)));
            Assert.That(Host.Engine.TraceIdOf(first), Is.EqualTo(firstTrace));
            Assert.That(secondTrace, Is.Not.EqualTo(firstTrace), "each message its own trace");
            Assert.That(Host.Engine.TraceIdOf(second), Is.EqualTo(secondTrace));
        });
    }

    [Test]
    public async Task AProblem_CarriesTheTraceIdOfTheRequest()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/sessions/{Guid.NewGuid()}/send")
        {
            Content = JsonContent.Create(new { content = "anyone there?" }),
        };
        request.Headers.TryAddWithoutValidation("traceparent", TraceParent);

        var response = await client.Http.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await ApiClient.ReadAsync(response);
        Assert.That(problem.GetProperty("traceId").GetString(), Does.StartWith($"00-{TraceId}-"));
    }

    private static async Task<Guid> SendAsync(ApiClient client, Guid chat, string? traceParent)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/sessions/{chat}/send")
        {
            Content = JsonContent.Create(new { content = "follow me" }),
        };
        if (traceParent is not null)
        {
            request.Headers.TryAddWithoutValidation("traceparent", traceParent);
        }

        var response = await client.Http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        return (await ApiClient.ReadAsync(response)).GetProperty("requestId").GetGuid();
    }

    private async Task<string?> StoredTraceParentAsync(Guid requestId)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var stored = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
            .GetAsync(new RelayRequestId(requestId), CancellationToken.None);
        return stored?.TraceParent;
    }
}
