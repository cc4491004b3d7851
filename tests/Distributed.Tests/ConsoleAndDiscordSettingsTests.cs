using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Discord.Tests.Relay;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// Issue 37's "the Discord admin commands and the console change the same settings": the API (its web console's
/// endpoints) and the server bot (its slash commands over the loopback Discord) on one store — the same SQLite file,
/// or the same PostgreSQL database and Redis — each reads what the other changed.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ConsoleAndDiscordSettingsTests(string storage)
{
    [Test]
    public async Task TheSignUpPolicyAndInvites_ChangedInDiscord_AreWhatTheConsoleReads_AndTheConsolesAreWhatDiscordShows()
    {
        await using var api = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        await using var bots = await TwoBots.CreateAsync();
        foreach (var (key, value) in api.SharedStoreSettings)
        {
            bots.Extra[key] = value;
        }

        await bots.StartServerAsync();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => bots.Fake.RegisteredCommands.Count > 0), Is.True);
        var channel = bots.Fake.CreateChannel("admin").Id;
        async Task<string> SlashAsync(string name, params JsonObject[] options) =>
            (await bots.Fake.AnswerOfAsync(await bots.Fake.InvokeCommandAsync(bots.ServerBot, channel, "42", admin: true, name,
                [.. options]))).Content;
        var admin = await api.FirstAdminAsync();

        // Discord → the console.
        var setInDiscord = await SlashAsync("registration", new JsonObject { ["name"] = "policy", ["type"] = 3, ["value"] = "approval" });
        var consoleReads = await UntilAsync(() => PolicyAsync(admin), "approval");
        var settings = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/settings"));
        var changedBy = settings.GetProperty("changes").EnumerateArray()
            .Single(c => c.GetProperty("key").GetString() == "auth.registration").GetProperty("updatedBy").GetString();

        // The console → Discord.
        var put = await admin.Http.PutAsync("api/v1/admin/registration", JsonContent.Create(new { policy = "inviteOnly" }));
        var discordShows = await UntilAsync(() => SlashAsync("registration"), "Sign-up is **inviteOnly**: only with an invite link (/invite create).");
        var invite = await ApiClient.ReadAsync(await admin.PostAsync("api/v1/admin/invites", new { expiresInHours = 3 }));
        var listedInDiscord = await SlashAsync("invite", new JsonObject { ["name"] = "list", ["type"] = 1, ["options"] = new JsonArray() });
        var audit = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/audit?command=registration"));

        Assert.Multiple(() =>
        {
            Assert.That(setInDiscord, Does.StartWith("Sign-up is now **approval**"));
            Assert.That(consoleReads, Is.EqualTo("approval"), "the sign-in page's GET /api/v1/auth/registration");
            Assert.That(changedBy, Is.EqualTo("discord:42 (someone)"), "the console's settings say who changed it");
            Assert.That(put.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(discordShows, Is.EqualTo("Sign-up is **inviteOnly**: only with an invite link (/invite create)."));
            Assert.That(listedInDiscord, Does.Contain($"`{invite.GetProperty("id").GetGuid():D}` **unused**"),
                "an invite the console made is listed in Discord");
            Assert.That(audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("actor").GetString()!)
                    .Select(actor => actor.StartsWith("user:", StringComparison.Ordinal) && actor.EndsWith("(operator)", StringComparison.Ordinal) ? "the operator" : actor),
                Is.EqualTo(new[] { "the operator", "discord:42 (someone)" }),
                "one audit log, newest first: the console's admin, then the Discord admin");
            Assert.That(bots.Fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        });
    }

    private static async Task<string> PolicyAsync(ApiClient client) =>
        (await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/registration"))).GetProperty("policy").GetString()!;

    /// <summary>
    /// What <paramref name="read"/> gives once it is <paramref name="expected"/>, or after 15 s: a process other than the
    /// writer reads the settings through a cache of a few seconds.
    /// </summary>
    private static async Task<string> UntilAsync(Func<Task<string>> read, string expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var value = await read();
            if (value == expected || DateTime.UtcNow > deadline)
            {
                return value;
            }

            await Task.Delay(250);
        }
    }
}
