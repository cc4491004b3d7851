using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Infrastructure.Metrics;
using MeatLizard.Tests.Metrics;

namespace MeatLizard.Api.Tests;

/// <summary>
/// <c>/metrics</c> on the API: Prometheus text an operator can scrape with the configured token, whose counters move
/// with what users do. Storage makes no difference to it, so it runs embedded (SQLite) only.
/// </summary>
[Parallelizable(ParallelScope.Self)]
public sealed class MetricsApiTests
{
    private const string Token = "test-metrics-token-0123456789abcdef";

    private const string SendRoute = "/api/v1/sessions/{id:guid}/send";

    [Test]
    public async Task Scrape_WithTheToken_ShowsRequestsSendsAndAnswersMove()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?> { ["Metrics:BearerToken"] = Token }).StartAsync();
        using var client = host.NewClient();
        var username = "metrics_" + Guid.NewGuid().ToString("N")[..8];
        await client.SignUpAsync(username);
        var id = await client.CreateSessionAsync();
        var before = await ScrapeAsync(host);

        var sent = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "count me, secret prompt" });
        var answer = await ApiClient.ReadAsync(sent);
        var (after, text) = await ScrapeTextAsync(host);

        Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.Multiple(() =>
        {
            Assert.That(Moved(before, after, "meatlizard_http_server_request_duration_seconds_count",
                ("method", "POST"), ("route", SendRoute), ("status", "200")), Is.EqualTo(1));
            Assert.That(Moved(before, after, "meatlizard_messages_sent_total", ("kind", "send")), Is.EqualTo(1));
            Assert.That(Moved(before, after, "meatlizard_answers_total", ("source", "model")), Is.EqualTo(1));
            Assert.That(Moved(before, after, "meatlizard_relay_queue_wait_seconds_count"), Is.EqualTo(1));
            Assert.That(Moved(before, after, "meatlizard_relay_round_trip_seconds_count", ("outcome", "completed")), Is.EqualTo(1));
            Assert.That(after.Value("meatlizard_process_memory_working_set_bytes"), Is.GreaterThan(0));
            Assert.That(after.Families, Does.ContainKey("meatlizard_process_gc_collections_total"));
        });
        Assert.That(text, Does.Not.Contain("secret prompt").And.Not.Contain(username).And.Not.Contain(id.ToString())
            .And.Not.Contain(Token), "no prompt, user, chat or token in the labels");
    }

    [Test]
    public async Task Scrape_WithoutTheTokenOrWithAnother_IsUnauthorized()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?> { ["Metrics:BearerToken"] = Token },
            withEngine: false).StartAsync();
        using var http = new HttpClient { BaseAddress = host.BaseAddress };

        var none = await http.GetAsync("metrics");
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "metrics");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token + "x");
        var other = await http.SendAsync(wrong);

        Assert.Multiple(() =>
        {
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        });
    }

    [Test]
    public async Task WithoutAToken_MetricsAreServedOnlyOnTheLoopbackPort_AndAFallbackAnswerIsCounted()
    {
        var port = FreePort();
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Metrics:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Fallback:Mode"] = "Markov",
        }, withEngine: false).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        var answer = await ApiClient.ReadAsync(await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "hello" }));

        var onApiPort = await client.GetAsync("metrics");
        using var loopback = new HttpClient();
        var scraped = await loopback.GetAsync($"http://127.0.0.1:{port}/metrics");
        var parsed = PrometheusText.Parse(await scraped.Content.ReadAsStringAsync());

        Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("fallback"));
        Assert.Multiple(() =>
        {
            Assert.That(onApiPort.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(scraped.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(scraped.Content.Headers.ContentType?.ToString(), Does.StartWith("text/plain; version=0.0.4"));
            Assert.That(parsed.Value("meatlizard_answers_total", ("source", "fallback")), Is.EqualTo(1));
            Assert.That(parsed.Value("meatlizard_messages_sent_total", ("kind", "send")), Is.EqualTo(1));
            Assert.That(parsed.Value("meatlizard_workers_online"), Is.Zero, "sampled: no worker runs");
            Assert.That(parsed.Value("meatlizard_model_hosts", ("model", "default")), Is.Zero, "the default model, listed by name, served by no host");
            Assert.That(parsed.Value("meatlizard_model_queue_waiting", ("model", "default")), Is.Zero);
        });
    }

    private static async Task<PrometheusText> ScrapeAsync(ApiHost host) => (await ScrapeTextAsync(host)).Parsed;

    private static async Task<(PrometheusText Parsed, string Text)> ScrapeTextAsync(ApiHost host)
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var response = await http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.ToString(), Does.StartWith(MetricsExposition.ContentType[..26]));
        var text = await response.Content.ReadAsStringAsync();
        return (PrometheusText.Parse(text), text);
    }

    private static double Moved(PrometheusText before, PrometheusText after, string sample, params (string, string)[] labels) =>
        after.Sum(sample, labels) - before.Sum(sample, labels);

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
