using System.Net;
using System.Net.Sockets;
using MeatLizard.Infrastructure.Metrics;
using MeatLizard.Tests.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Metrics;

/// <summary>The loopback port the bots serve <c>/metrics</c> on, registered exactly as their compositions do.</summary>
public sealed class LoopbackMetricsServerTests
{
    [Test]
    public async Task TheMetricsPort_AnswersOnLoopback_WithParsableText()
    {
        var port = FreePort();
        using var host = BotLikeHost(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await host.StartAsync();
        using var http = new HttpClient();

        var scraped = await http.GetAsync($"http://127.0.0.1:{port}/metrics");
        var other = await http.GetAsync($"http://127.0.0.1:{port}/");
        var parsed = PrometheusText.Parse(await scraped.Content.ReadAsStringAsync());
        await host.StopAsync();

        Assert.Multiple(() =>
        {
            Assert.That(scraped.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(scraped.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain"));
            Assert.That(parsed.Value("meatlizard_process_memory_working_set_bytes"), Is.GreaterThan(0));
            Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
    }

    [Test]
    public async Task StoppingWhileScrapersComeAndGo_StopsCleanly_AndTheScrapesThatGotAnAnswerAreWhole()
    {
        var whole = 0;
        for (var round = 0; round < 40; round++)
        {
            var port = FreePort();
            using var host = BotLikeHost(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await host.StartAsync();
            using var stop = new CancellationTokenSource();
            var scrapers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                using var http = new HttpClient();
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var scraped = await http.GetAsync($"http://127.0.0.1:{port}/metrics");
                        var text = await scraped.Content.ReadAsStringAsync();
                        Assert.That(scraped.StatusCode, Is.EqualTo(HttpStatusCode.OK), "an answer while stopping is a whole scrape or none");
                        Assert.That(PrometheusText.Parse(text).Value("meatlizard_process_memory_working_set_bytes"), Is.GreaterThan(0));
                        Interlocked.Increment(ref whole);
                    }
                    catch (HttpRequestException)
                    {
                        // refused or closed: the port stopped before this scrape was read
                    }
                }
            })).ToArray();
            await Task.Delay(20 + round % 7);

            Assert.DoesNotThrowAsync(() => host.StopAsync(), $"round {round}");

            stop.Cancel();
            await Task.WhenAll(scrapers);
        }

        Assert.That(whole, Is.GreaterThan(40), "scrapes were answered in the rounds, not only refused");
    }

    [Test]
    public async Task APortInUse_StopsTheHostWithOneLineNamingTheSetting()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var host = BotLikeHost(port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var failure = Assert.CatchAsync(() => host.StartAsync());

        Assert.That(HostRunner.Describe(failure!), Does.StartWith($"Metrics:Port {port}"));
    }

    [TestCase("Metrics:Port", "0")]
    [TestCase("Metrics:Port", "http")]
    [TestCase("Metrics:BearerToken", "too-short")]
    [TestCase("Metrics:BearerToken", "sixteen chars with spaces")]
    public void ABadValue_IsAConfigurationErrorNamingTheSetting_WithoutTheValue(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();

        var error = Assert.Throws<ConfigurationException>(() => MetricsOptions.Read(configuration));

        Assert.That(error!.Message, Does.StartWith(key).And.Not.Contain(value));
    }

    [Test]
    public void NothingSet_ServesNothing_AndTheTokenIsNeverPrinted()
    {
        var none = MetricsOptions.Read(new ConfigurationBuilder().Build());
        var token = new MetricsOptions("a-very-secret-metrics-token", 9464);

        Assert.Multiple(() =>
        {
            Assert.That(none, Is.EqualTo(new MetricsOptions(null, null)));
            Assert.That(token.ToString(), Does.Not.Contain("a-very-secret"));
        });
    }

    private static IHost BotLikeHost(string port)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Metrics:Port"] = port });
        builder.Services.AddMetricsExposition(builder.Configuration, sampleStatus: false);
        return builder.Build();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
