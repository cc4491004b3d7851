using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Web.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The admin console's screenshots for docs/web.md, every section, desktop and phone, light and dark (written to
/// artifacts/screenshots as <c>console-{desktop,phone}-{light,dark}-{section}.png</c>; copied to docs/images). The
/// platform is in use first: people registered and asked the model (real messages, real answers of the test host), the
/// operator promoted one of them, who banned one, made invites and host tokens, changed settings and asked for approval
/// of new accounts (two wait) — all through the API, so the audit log holds what she did. Beside those messages, the last hour gets figures recorded
/// as the relay records them, spread over the hour, so the charts have a shape; the test checks that the charts drew
/// them and that each section shows what was done.
/// </summary>
public sealed class AdminConsoleScreenshotTests : BrowserFixture
{
    [Test]
    public async Task Console_Screenshots_EverySection_DesktopAndPhone_LightAndDark()
    {
        var user = await NewPageAsync();
        await user.RegisterAsync("ada");
        await user.SendAsync("What is a lizard?");
        await user.WaitForAnswersAsync(1);
        var asked = 1 + await UseThePlatformAsync();
        await RecordAnHourAsync();
        await RecordEmbeddingsAsync();

        foreach (var (scheme, phone, name) in new[]
                 {
                     (ColorScheme.Light, false, "desktop-light"), (ColorScheme.Dark, false, "desktop-dark"),
                     (ColorScheme.Light, true, "phone-light"), (ColorScheme.Dark, true, "phone-dark"),
                 })
        {
            var admin = await AdminConsole.SignInAsync(await NewPageAsync(scheme, phone));
            var page = admin.Page;
            await admin.OpenConsoleAsync();
            await AdminConsole.WaitForChartsAsync(page, requests: Recorded + asked);
            var points = await page.Locator("figure.chart[aria-label='Latency (queued to answered)']").GetAttributeAsync("data-points");
            Assert.That(int.Parse(points!, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(20));
            var overflow = await page.EvaluateAsync<bool>(
                "() => [...document.querySelectorAll('figure.chart')].some(f => f.scrollWidth > f.clientWidth + 1)");
            Assert.That(overflow, Is.False, "each chart fits its box");
            await page.WaitForTimeoutAsync(300); // the charts take the dialog's final width
            await admin.ScreenshotAsync($"console-{name}-dashboard");

            await Tab(page, "Users");
            await Expect(page.GetByLabel("Who may register")).ToHaveValueAsync("approval");
            await Expect(page.Locator("#admin-pending li")).ToHaveCountAsync(2);
            await Expect(page.Locator("#admin-users-list")).ToContainTextAsync("banned");
            await admin.ScreenshotAsync($"console-{name}-users");

            await Expect(page.Locator("#admin-invites")).ToContainTextAsync("revoked");
            await ScrollToAsync(page, "#admin-users h3:text-is('Invite links')");
            await admin.ScreenshotAsync($"console-{name}-invites");

            await Tab(page, "Usage");
            await Expect(page.Locator("#usage-rows tr")).ToHaveCountAsync(4);
            await Expect(page.Locator("#usage-summary")).ToContainTextAsync("4 users used the model in the last 30 days");
            await Expect(page.Locator("#usage-totals")).ToContainTextAsync("Total");
            Assert.That(await page.Locator("#admin-dialog").EvaluateAsync<bool>("d => d.scrollWidth <= d.clientWidth"), Is.True,
                "the usage table scrolls in its own box, not the console");
            await admin.ScreenshotAsync($"console-{name}-usage");

            await Tab(page, "Model hosts");
            await Expect(page.Locator("#hosts-list")).ToContainTextAsync("ready");
            await Expect(page.Locator("#host-tokens")).ToContainTextAsync("studio-mac");
            await admin.ScreenshotAsync($"console-{name}-hosts");
            if (phone)
            {
                // On a desktop the tokens are on the first screen already.
                await ScrollToAsync(page, "#admin-hosts h3:text-is('Host tokens')");
                await admin.ScreenshotAsync($"console-{name}-host-tokens");
            }

            await Tab(page, "Settings");
            await Expect(page.Locator("#settings-changes")).ToContainTextAsync("fallback.mode = markov");
            await Expect(page.GetByLabel("When no host can answer")).ToHaveValueAsync("markov");
            await admin.ScreenshotAsync($"console-{name}-settings");

            // Every console call is audited, reads too: what the second admin changed is found by her name.
            await Tab(page, "Audit log");
            await page.GetByLabel("Who", new() { Exact = true }).FillAsync(SecondAdmin);
            await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
            await Expect(page.Locator("#audit-list")).ToContainTextAsync("registration policy=approval", new() { IgnoreCase = true });
            await Expect(page.Locator("#audit-list")).ToContainTextAsync("ban");
            await admin.ScreenshotAsync($"console-{name}-audit");
        }
    }

    private static async Task Tab(IPage page, string name)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true }).ClickAsync();
        await page.Locator("#admin-dialog").EvaluateAsync("d => d.scrollTo(0, 0)");
    }

    /// <summary>Scrolls the console so that the heading is at its top (the dialog scrolls, not the page).</summary>
    private static async Task ScrollToAsync(IPage page, string heading)
    {
        await page.Locator(heading).EvaluateAsync("h => h.scrollIntoView({ block: 'start' })");
        await page.WaitForTimeoutAsync(100);
    }

    /// <summary>
    /// What a platform in use has, done through the API as people and an admin do it; returns how many questions were
    /// asked (each answered by the test host, so each is a figure of the dashboard).
    /// </summary>
    private async Task<int> UseThePlatformAsync()
    {
        // A host that writes as a small model does (about 60 tokens a second), not at once.
        Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(16);
        Engine.Reply = r => $"Here is a short answer to “{r.Turns[^1].Content}” — in a few sentences, with the facts " +
                            "that matter most first and a pointer to where to read more if you want the details.";
        string[][] people =
        [
            ["grace", "Summarise the plot of Hamlet in two sentences.", "Which of its characters survive?"],
            ["linus", "Write a haiku about a file system.", "Now one about a kernel panic."],
            ["margaret", "How far is the Moon, in kilometres?", "And how long does light take to get there?"],
        ];
        var asked = 0;
        foreach (var person in people)
        {
            using var client = Host.NewClient();
            await client.SignUpAsync(person[0]);
            var chat = await client.CreateSessionAsync(new { title = person[1] });
            foreach (var question in person.Skip(1))
            {
                (await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = question })).EnsureSuccessStatusCode();
                asked++;
            }
        }

        using (var spammer = Host.NewClient())
        {
            await spammer.SignUpAsync("bulk_sender");
        }

        // The operator makes margaret an admin; she does the rest.
        var operatorClient = await Host.FirstAdminAsync();
        async Task<string> IdOfAsync(string username) =>
            (await ApiClient.ReadAsync(await operatorClient.GetAsync($"api/v1/admin/users?search={username}"))).EnumerateArray()
            .Single(u => u.GetProperty("username").GetString() == username).GetProperty("id").GetString()!;
        async Task AdminAsync(Task<HttpResponseMessage> call) => (await call).EnsureSuccessStatusCode();
        await AdminAsync(operatorClient.PostAsync($"api/v1/admin/users/{await IdOfAsync(SecondAdmin)}/promote", null));
        var banned = await IdOfAsync("bulk_sender");
        var linus = await IdOfAsync("linus");
        using var admin = Host.NewClient();
        await admin.SignInAsync(SecondAdmin, ApiHost.AdminPassword);

        await AdminAsync(admin.PostAsync($"api/v1/admin/users/{banned}/ban", null));
        await AdminAsync(admin.PostAsync($"api/v1/admin/users/{linus}/password-reset", new { expiresInHours = 24 }));
        await AdminAsync(admin.PostAsync("api/v1/admin/invites", new { expiresInHours = 72 }));
        var revoked = await ApiClient.ReadAsync(await admin.PostAsync("api/v1/admin/invites", new { expiresInHours = 24 }));
        await AdminAsync(admin.DeleteAsync($"api/v1/admin/invites/{revoked.GetProperty("id").GetString()}"));
        await AdminAsync(admin.PostAsync("api/v1/admin/invites", new { expiresInHours = 168 }));
        await AdminAsync(admin.PostAsync("api/v1/admin/hosts/tokens", new { name = "studio-mac" }));
        await AdminAsync(admin.PostAsync("api/v1/admin/hosts/tokens", new { name = "mini-m2" }));
        await AdminAsync(admin.DeleteAsync("api/v1/admin/hosts/tokens/mini-m2"));
        await AdminAsync(admin.PutAsync("api/v1/admin/settings/rate-limits/user", new { perMinute = 45 }));
        await AdminAsync(admin.PutAsync("api/v1/admin/settings/rate-limits/ip", new { perMinute = 120 }));
        await AdminAsync(admin.PutAsync("api/v1/admin/settings/fallback", new { mode = "markov" }));
        await AdminAsync(admin.PutAsync("api/v1/admin/registration", new { policy = "approval" }));
        foreach (var newcomer in new[] { "kim_newcomer", "theo" })
        {
            using var waiting = Host.NewClient();
            var registered = await ApiClient.ReadAsync(await waiting.PostAsync("api/v1/auth/register",
                new { username = newcomer, password = ApiHost.AdminPassword }));
            Assert.That(registered.GetProperty("awaitingApproval").GetBoolean(), Is.True, $"{newcomer} waits for an admin");
        }

        return asked;
    }

    private const int Recorded = 90;

    /// <summary>
    /// Once the chats' usage is in, linus's embeddings of his notes through an API key: a dozen calls of 16 texts, as
    /// <c>/v1/embeddings</c> records them (the texts and the tokens the hosts read), so the Usage table has both kinds.
    /// </summary>
    private async Task RecordEmbeddingsAsync()
    {
        using var operatorClient = await Host.FirstAdminAsync();
        var usage = await AdminConsole.WaitForUsageAsync(operatorClient, 30, ("ada", 1), ("grace", 2), ("linus", 2), ("margaret", 2));
        var linus = usage.GetProperty("users").EnumerateArray()
            .Single(u => u.GetProperty("username").GetString() == "linus").GetProperty("userId").GetGuid();
        await using var scope = Host.Services.CreateAsyncScope();
        var now = DateTimeOffset.UtcNow;
        await scope.ServiceProvider.GetRequiredService<IUsageBatchWriter>().WriteAsync(
            [.. Enumerable.Range(0, 12).Select(i => new UsageFigure(linus, now.AddMinutes(-i), UsageKinds.Embeddings, 16, 16 * 37, 0))],
            CancellationToken.None);
    }

    /// <summary>The admin the operator promotes, who makes the changes the console shows.</summary>
    private const string SecondAdmin = "margaret";

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
