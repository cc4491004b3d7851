using System.Globalization;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Web.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The admin console in Chromium (issue 37, item 3): an admin opens it, the dashboard draws charts from the messages a
/// user just sent, the admin finds the user, bans and unbans them, changes a setting and reads the audit log. On SQLite
/// and on PostgreSQL + Redis.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AdminConsoleTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task Admin_SeesChartsOfRealMessages_BansAndUnbans_ChangesASetting_AndReadsTheAuditLog()
    {
        var user = await NewPageAsync();
        var username = await user.RegisterAsync();
        for (var i = 1; i <= 3; i++)
        {
            await user.SendAsync($"question {i}");
            await user.WaitForAnswersAsync(i);
        }

        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        await admin.OpenConsoleAsync();
        await AdminConsole.WaitForChartsAsync(admin.Page, requests: 3);
        await Expect(admin.Page.Locator("#dashboard-charts figure.chart")).ToHaveCountAsync(5);
        await Expect(admin.Page.Locator("#dashboard-charts canvas")).ToHaveCountAsync(5);
        var drawn = await admin.Page.Locator("figure.chart[aria-label='Messages per minute']").GetAttributeAsync("data-points");
        Assert.That(int.Parse(drawn!, CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(1), "the model's answers are drawn");
        await Expect(admin.Page.Locator("figure.chart[aria-label='Tokens per second by host'] .u-legend"))
            .Not.ToContainTextAsync("no host answered");

        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();
        await admin.Page.GetByLabel("Search accounts").FillAsync(username.ToUpperInvariant());
        await Expect(admin.Page.Locator("#admin-users-list li")).ToHaveCountAsync(1);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Ban {username}" }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-users-list")).ToContainTextAsync("banned");
        await user.Page.ReloadAsync();
        await Expect(user.Page.Locator("#auth")).ToBeVisibleAsync(); // a ban ends the user's sign-ins
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Unban {username}" }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-users-list")).Not.ToContainTextAsync("banned");
        await user.SignInAsync(username);

        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Settings", Exact = true }).ClickAsync();
        await Expect(admin.Page.GetByLabel("When no host can answer")).ToHaveValueAsync("inform");
        await admin.Page.GetByLabel("When no host can answer").SelectOptionAsync("markov");
        await Expect(admin.Page.Locator("#settings-saved")).ToHaveTextAsync("Fallback saved.");
        await Expect(admin.Page.Locator("#settings-changes")).ToContainTextAsync("fallback.mode = markov");
        await admin.Page.GetByLabel("Per user").FillAsync("45");
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Save rate limits" }).ClickAsync();
        await Expect(admin.Page.Locator("#settings-changes")).ToContainTextAsync("ratelimit.user.per_minute = 45");
        await using (var scope = Host.Services.CreateAsyncScope())
        {
            var fallback = scope.ServiceProvider.GetRequiredService<IFallbackResponder>();
            Assert.That(await fallback.GetModeAsync(CancellationToken.None), Is.EqualTo(FallbackMode.Markov), "in force at once");
        }

        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Model hosts", Exact = true }).ClickAsync();
        await Expect(admin.Page.Locator("#hosts-list")).ToContainTextAsync("ready");

        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Audit log", Exact = true }).ClickAsync();
        await admin.Page.GetByLabel("Command").FillAsync("ban");
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(admin.Page.Locator("#audit-list li")).ToHaveCountAsync(1);
        await Expect(admin.Page.Locator("#audit-list")).ToContainTextAsync($"({ApiHost.OperatorName})");
        await admin.Page.GetByLabel("Command").FillAsync("");
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(admin.Page.Locator("#audit-list")).ToContainTextAsync("fallback mode=markov");
        await Expect(admin.Page.Locator("#audit-list")).ToContainTextAsync("unban");
    }

    /// <summary>
    /// The console's tabs stay where they are whatever its sections hold: centred, the dialog moved with each section's
    /// height, and a tab clicked while the dashboard drew its charts was missed (CI: "Users" clicked, the dashboard still
    /// shown).
    /// </summary>
    [Test]
    public async Task TheConsolesTabs_StayWhereTheyAre_AsItsSectionsChangeHeight()
    {
        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        await admin.OpenConsoleAsync();
        var users = admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true });
        await Expect(admin.Page.Locator("#dashboard-summary")).Not.ToBeEmptyAsync();
        var onTheDashboard = await users.BoundingBoxAsync();
        var dashboardHeight = (await admin.Page.Locator("#admin-dialog").BoundingBoxAsync())!.Height;

        await users.ClickAsync();
        await Expect(admin.Page.Locator("#admin-pending")).ToContainTextAsync("Nobody is waiting.");
        var onUsers = await users.BoundingBoxAsync();
        var usersHeight = (await admin.Page.Locator("#admin-dialog").BoundingBoxAsync())!.Height;

        Assert.That(usersHeight, Is.Not.EqualTo(dashboardHeight).Within(1), "the sections differ in height, or this shows nothing");
        Assert.That(onUsers!.Y, Is.EqualTo(onTheDashboard!.Y).Within(0.5), "the tab moved with the section's height");
    }

    [Test]
    public async Task TheUsersSection_ShowsWhatItRead_WhenOneOfItsReadsIsRefused_AndAllOfItOnTheNextVisit()
    {
        var user = await NewPageAsync();
        var username = await user.RegisterAsync();
        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        await admin.Page.RouteAsync("**/api/v1/admin/invites", route => route.FulfillAsync(new() { Status = 503 }));

        await admin.OpenConsoleAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();

        await Expect(admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Delete {username} and all their data" })).ToBeVisibleAsync();
        await Expect(admin.Page.Locator("#admin-pending")).ToContainTextAsync("Nobody is waiting.");
        await Expect(admin.Page.Locator("#admin-error")).ToContainTextAsync("not answering");
        await Expect(admin.Page.Locator("#admin-invites li")).ToHaveCountAsync(0);

        await admin.Page.UnrouteAllAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-invites")).ToContainTextAsync("No invites yet.");
        await Expect(admin.Page.Locator("#admin-error")).ToBeEmptyAsync();
    }
}

/// <summary>The console as a test drives it: the operator signed in, the console opened, the charts waited for.</summary>
internal static class AdminConsole
{
    public static async Task<ChatPage> SignInAsync(ChatPage page)
    {
        await page.OpenAsync();
        await page.SignInAsync(ApiHost.OperatorName, ApiHost.AdminPassword);
        return page;
    }

    public static async Task OpenConsoleAsync(this ChatPage page)
    {
        if (await page.Page.GetByRole(AriaRole.Button, new() { Name = "Show chats" }).IsVisibleAsync())
        {
            await page.Page.GetByRole(AriaRole.Button, new() { Name = "Show chats" }).ClickAsync(); // a phone's drawer
        }

        await page.Page.GetByRole(AriaRole.Button, new() { Name = "Admin", Exact = true }).ClickAsync();
        await Expect(page.Page.Locator("#admin-dialog")).ToBeVisibleAsync();
    }

    /// <summary>The figures are written a moment after each answer: the hour is asked for again until they are in.</summary>
    public static async Task WaitForChartsAsync(IPage page, int requests)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var summary = page.Locator("#dashboard-summary");
        while (!(await summary.TextContentAsync() ?? "").StartsWith($"{requests} requests", StringComparison.Ordinal)
               && DateTime.UtcNow < deadline)
        {
            await page.WaitForTimeoutAsync(300);
            await page.GetByRole(AriaRole.Button, new() { Name = "Last hour" }).ClickAsync();
        }

        await Expect(summary).ToContainTextAsync($"{requests} requests in the last hour");
    }

    /// <summary>
    /// Usage is written in batches, off the answers' path: the report of the last <paramref name="days"/> days is asked
    /// for again until each user has their chat requests in it; returns it.
    /// </summary>
    public static async Task<JsonElement> WaitForUsageAsync(ApiClient admin, int days, params (string User, long Requests)[] expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var report = await ApiClient.ReadAsync(await admin.GetAsync($"api/v1/admin/usage?days={days}"));
            var requests = report.GetProperty("users").EnumerateArray().ToDictionary(
                u => u.GetProperty("username").GetString()!, u => u.GetProperty("chat").GetProperty("requests").GetInt64());
            var missing = expected.Where(e => requests.GetValueOrDefault(e.User) != e.Requests).ToList();
            if (missing.Count == 0)
            {
                return report;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"usage of {string.Join(", ", missing)} not in the report: {report}");
            await Task.Delay(300);
        }
    }
}
