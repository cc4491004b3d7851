using MeatLizard.Application.Abstractions;
using MeatLizard.Web.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The admin console's screenshots for docs/web.md, desktop and phone, light and dark (written to
/// artifacts/screenshots as <c>console-{desktop,phone}-{light,dark}-{dashboard,users}.png</c>; copied to docs/images). Beside a few real
/// messages, the last hour gets figures recorded as the relay records them, spread over the hour, so the charts have
/// a shape; the test checks that the charts drew them.
/// </summary>
public sealed class AdminConsoleScreenshotTests : BrowserFixture
{
    [Test]
    public async Task Console_Screenshots_DesktopAndPhone_LightAndDark()
    {
        var user = await NewPageAsync();
        await user.RegisterAsync("ada");
        await user.SendAsync("What is a lizard?");
        await user.WaitForAnswersAsync(1);
        await RecordAnHourAsync();

        foreach (var (scheme, phone, name) in new[]
                 {
                     (ColorScheme.Light, false, "desktop-light"), (ColorScheme.Dark, false, "desktop-dark"),
                     (ColorScheme.Light, true, "phone-light"), (ColorScheme.Dark, true, "phone-dark"),
                 })
        {
            var admin = await AdminConsole.SignInAsync(await NewPageAsync(scheme, phone));
            await admin.OpenConsoleAsync();
            await AdminConsole.WaitForChartsAsync(admin.Page, requests: Recorded + 1);
            var points = await admin.Page.Locator("figure.chart[aria-label='Latency (queued to answered)']").GetAttributeAsync("data-points");
            Assert.That(int.Parse(points!, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(20));
            var overflow = await admin.Page.EvaluateAsync<bool>(
                "() => [...document.querySelectorAll('figure.chart')].some(f => f.scrollWidth > f.clientWidth + 1)");
            Assert.That(overflow, Is.False, "each chart fits its box");
            await admin.Page.WaitForTimeoutAsync(300); // the charts take the dialog's final width
            await admin.ScreenshotAsync($"console-{name}-dashboard");

            await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();
            await Expect(admin.Page.Locator("#admin-users-list")).ToContainTextAsync("ada");
            await admin.ScreenshotAsync($"console-{name}-users");
        }
    }

    private const int Recorded = 90;

    /// <summary>Figures for the hour before now, as the relay records each answered request (a few fallbacks and notices).</summary>
    private async Task RecordAnHourAsync()
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var reads = scope.ServiceProvider.GetRequiredService<IAdminConsoleReads>();
        var now = DateTimeOffset.UtcNow;
        Guid? host = null;
        for (var i = 0; i < 50 && host is null; i++)
        {
            host = (await reads.ListMetricSamplesAsync(now.AddHours(-1), now.AddMinutes(1), 10, CancellationToken.None))
                .Select(s => s.WorkerId).FirstOrDefault(w => w is not null);
            await Task.Delay(100);
        }

        var recorder = scope.ServiceProvider.GetRequiredService<IMetricsRecorder>();
        var random = new Random(37);
        for (var i = 0; i < Recorded; i++)
        {
            var at = now.AddMinutes(-58 + i * 57.0 / Recorded);
            var busy = Math.Sin(i / 9.0) + 1;
            var source = i % 23 == 5 ? "fallback" : i % 31 == 7 ? "notice" : "model";
            var generation = 900 + random.Next(600);
            var queueMs = (int)(busy * 800) + random.Next(200);
            var promptMs = 120 + random.Next(80);
            await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), at,
                QueueMs: queueMs, RelayMs: 40 + random.Next(40),
                InferenceMs: source == "model" ? generation + 150 : null, PromptTokens: 40, CompletionTokens: source == "model" ? 60 + random.Next(60) : 0,
                Fallback: source == "fallback", Outcome: source == "notice" ? "failed" : source == "fallback" ? "fallback:offline" : "completed",
                PromptMs: source == "model" ? promptMs : null, GenerationMs: source == "model" ? generation : null)
            {
                WorkerId = source == "model" ? host : null,
                Model = source == "model" ? "test-model" : null,
                // Measured: the wait, the way to the host, the prompt, and the first piece's way back (a slow one now and then).
                FirstTokenMs = source == "model" ? queueMs + 30 + promptMs + (i % 7 == 3 ? 600 : random.Next(60)) : null,
            }, CancellationToken.None);
        }
    }
}
