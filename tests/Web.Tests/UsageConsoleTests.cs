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
/// The admin console's Usage section (issue 38) in Chromium, on SQLite and on PostgreSQL + Redis: before anyone asked
/// the model it says so; after people chat, an admin sees each user's figures as <c>GET /api/v1/admin/usage</c> reports
/// them, heaviest first with a totals row, for each period chosen, and one user alone by choosing their name; a
/// non-admin never sees the section; on a phone the section fits the screen.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class UsageConsoleTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task Admin_SeesEachUsersModelWork_AsTheApiReportsIt_ByPeriod_AndOneUserAlone_ANonAdminNever()
    {
        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        var page = admin.Page;
        await admin.OpenConsoleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Usage", Exact = true }).ClickAsync();
        await Expect(page.Locator("#usage-rows")).ToHaveTextAsync("Nobody used the model in this period.");
        await Expect(page.Locator("#usage-totals")).ToBeHiddenAsync();

        // One person asks once in the browser, another three times through the API; a third asked ten days ago only.
        var user = await NewPageAsync();
        var light = await user.RegisterAsync();
        await user.SendAsync("hello there");
        await user.WaitForAnswersAsync(1);
        using (var client = Host.NewClient())
        {
            var heavy = await client.SignUpAsync();
            var chat = await client.CreateSessionAsync();
            for (var i = 1; i <= 3; i++)
            {
                (await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = $"question {i}" })).EnsureSuccessStatusCode();
            }

            using var earlier = Host.NewClient();
            var past = await earlier.SignUpAsync();
            await RecordTenDaysAgoAsync((await ApiClient.ReadAsync(await earlier.GetAsync("api/v1/auth/me"))).GetProperty("id").GetGuid());

            using var api = await Host.FirstAdminAsync();
            var month = await AdminConsole.WaitForUsageAsync(api, 30, (light, 1), (heavy, 3));
            Assert.That(Names(month), Is.EqualTo(new[] { past, heavy, light }), "heaviest first");

            // A non-admin has no Admin button, so never the console nor its Usage section.
            await Expect(user.Page.GetByRole(AriaRole.Button, new() { Name = "Admin", Exact = true })).ToBeHiddenAsync();
            await Expect(user.Page.Locator("#admin-usage")).ToBeHiddenAsync();

            await Period(page, "30 days");
            await ExpectReportAsync(page, month);
            await AccessibilityTests.AssertAccessibleAsync(page, "usage section");

            var week = await ReadAsync(api, "days=7");
            Assert.That(Names(week), Is.EqualTo(new[] { heavy, light }), "the figure of ten days ago is not in the last week");
            await Period(page, "7 days");
            await ExpectReportAsync(page, week);
            await Period(page, "Today");
            await ExpectReportAsync(page, await ReadAsync(api, "days=1"));
            await Expect(page.Locator("#usage-summary")).ToContainTextAsync("2 users used the model today");

            // A name shows that user alone, in the period chosen, until "Show everyone".
            await page.GetByRole(AriaRole.Button, new() { Name = heavy, Exact = true }).ClickAsync();
            await Expect(page.Locator("#usage-summary")).ToContainTextAsync($"{heavy}'s model work today");
            var id = week.GetProperty("users")[0].GetProperty("userId").GetString();
            await ExpectReportAsync(page, await ReadAsync(api, $"days=1&userId={id}"));
            await Period(page, "90 days");
            await Expect(page.Locator("#usage-summary")).ToContainTextAsync($"{heavy}'s model work in the last 90 days");
            await page.GetByRole(AriaRole.Button, new() { Name = "Show everyone" }).ClickAsync();
            await ExpectReportAsync(page, await ReadAsync(api, "days=90"));
            await Expect(page.Locator("#admin-error")).ToBeEmptyAsync();
        }

        // On a phone, in the dark: the table scrolls in its own box, the console does not scroll sideways.
        var phone = await AdminConsole.SignInAsync(await NewPageAsync(ColorScheme.Dark, phone: true));
        await phone.OpenConsoleAsync();
        await phone.Page.GetByRole(AriaRole.Button, new() { Name = "Usage", Exact = true }).ClickAsync();
        await Expect(phone.Page.Locator("#usage-rows tr")).ToHaveCountAsync(3);
        Assert.That(await phone.Page.Locator("#admin-dialog").EvaluateAsync<bool>("d => d.scrollWidth <= d.clientWidth"), Is.True,
            "the console fits the phone's width");
        await AccessibilityTests.AssertAccessibleAsync(phone.Page, "usage section on a phone");
    }

    private static async Task Period(IPage page, string name)
    {
        var button = page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });
        await button.ClickAsync();
        await Expect(button).ToHaveAttributeAsync("aria-pressed", "true");
    }

    /// <summary>The table holds the report's users in its order, each with its figures, and their totals below.</summary>
    private static async Task ExpectReportAsync(IPage page, JsonElement report)
    {
        var users = report.GetProperty("users").EnumerateArray().ToList();
        var expected = users.Select(u => Row(u.GetProperty("username").GetString()!, u.GetProperty("chat"), u.GetProperty("embeddings"))).ToList();
        await Expect(page.Locator("#usage-rows tr")).ToHaveCountAsync(expected.Count);
        await Expect(page.Locator("#usage-rows tr th").First).ToHaveTextAsync(expected[0][0]); // the answer asked for is in
        Assert.That(await CellsAsync(page, "#usage-rows"), Is.EqualTo(expected));
        if (users.Count > 1)
        {
            long Sum(string kind, string figure) => users.Sum(u => u.GetProperty(kind).GetProperty(figure).GetInt64());
            long[] chat = [Sum("chat", "requests"), Sum("chat", "promptTokens"), Sum("chat", "completionTokens")];
            long[] embeddings = [Sum("embeddings", "requests"), Sum("embeddings", "inputs"), Sum("embeddings", "promptTokens")];
            var total = users.Sum(u => u.GetProperty("totalTokens").GetInt64());
            long[] totals = [.. chat, .. embeddings, total];
            Assert.That(await CellsAsync(page, "#usage-totals"), Is.EqualTo(new[] { (string[])["Total", .. totals.Select(Number)] }));
        }
        else
        {
            await Expect(page.Locator("#usage-totals")).ToBeHiddenAsync();
        }
    }

    private static string[] Row(string name, JsonElement chat, JsonElement embeddings)
    {
        long[] figures =
        [
            chat.GetProperty("requests").GetInt64(), chat.GetProperty("promptTokens").GetInt64(), chat.GetProperty("completionTokens").GetInt64(),
            embeddings.GetProperty("requests").GetInt64(), embeddings.GetProperty("inputs").GetInt64(), embeddings.GetProperty("promptTokens").GetInt64(),
            chat.GetProperty("totalTokens").GetInt64() + embeddings.GetProperty("totalTokens").GetInt64(),
        ];
        return [name, .. figures.Select(Number)];
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A table part's cells: the first as written, the figures as their digits (the browser's grouping left out).</summary>
    private static async Task<string[][]> CellsAsync(IPage page, string body) =>
        await page.EvaluateAsync<string[][]>(
            "body => [...document.querySelector(body).rows].map(r => [...r.cells].map((c, i) => " +
            "i === 0 ? c.textContent.trim() : c.textContent.replace(/\\D/g, '')))", body);

    private static IEnumerable<string> Names(JsonElement report) =>
        report.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("username").GetString()!);

    private static async Task<JsonElement> ReadAsync(ApiClient api, string query) =>
        await ApiClient.ReadAsync(await api.GetAsync($"api/v1/admin/usage?{query}"));

    /// <summary>Figures as the relay records an answer, on the day ten days before today (UTC).</summary>
    private async Task RecordTenDaysAgoAsync(Guid userId)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IUsageBatchWriter>().WriteAsync(
            [new UsageFigure(userId, DateTimeOffset.UtcNow.AddDays(-10), UsageKinds.Chat, 0, 7_000, 3_000)], CancellationToken.None);
    }
}
