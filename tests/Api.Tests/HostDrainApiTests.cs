using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// An admin drains a model host from the console (issue 37): from its next heartbeat it is shown drained and sent no new
/// question — with no other host, a question falls back at once — and undrained, it answers again. Audited; admins only.
/// Both databases.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class HostDrainApiTests(string storage)
{
    private static async Task<JsonElement> HostAsync(ApiClient admin, Func<JsonElement, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var status = await ApiClient.ReadAsync(await admin.GetAsync("api/v1/admin/status"));
            var host = status.GetProperty("platform").GetProperty("workers").EnumerateArray().SingleOrDefault();
            if (host.ValueKind == JsonValueKind.Object && until(host))
            {
                return host;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the host's heartbeat never said so");
            await Task.Delay(100);
        }
    }

    private static async Task<string> AskAsync(ApiClient user, Guid chat, string question)
    {
        var answer = await ApiClient.ReadAsync(await user.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = question }));
        return answer.GetProperty("source").GetString()!;
    }

    [Test]
    public async Task ADrainedHost_IsSentNothingNew_UntilUndrained_AndBothAreAudited()
    {
        await using var host = await new ApiHost(withEngine: true, storage: storage).StartAsync();
        var admin = await host.FirstAdminAsync();
        using var user = host.NewClient();
        await user.SignUpAsync();
        var chat = await user.CreateSessionAsync();
        var id = (await HostAsync(admin, h => h.GetProperty("ready").GetBoolean())).GetProperty("id").GetGuid();
        Assert.That(await AskAsync(user, chat, "before"), Is.EqualTo("model"));

        var byUser = await user.PostAsync($"api/v1/admin/hosts/{id}/drain", null);
        var drain = await admin.PostAsync($"api/v1/admin/hosts/{id}/drain", null);
        var drained = await HostAsync(admin, h => h.GetProperty("drainedByAdmin").GetBoolean());
        // The dispatcher places by the host list it read last, kept for ModelHosts.Reuse: the drain holds from then on.
        await Task.Delay(MeatLizard.Application.Relay.ModelHosts.Reuse + TimeSpan.FromMilliseconds(200));
        var asked = host.Engine.Requests.Count;
        var whileDrained = await AskAsync(user, chat, "while drained");

        Assert.That(byUser.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(drain.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await ApiClient.ReadAsync(drain)).GetProperty("drained").GetBoolean(), Is.True);
        Assert.That(drained.GetProperty("draining").GetBoolean(), Is.True);
        Assert.That(whileDrained, Is.Not.EqualTo("model"), "no host takes questions: the fallback answers");
        Assert.That(host.Engine.Requests.Count, Is.EqualTo(asked), "nothing sent to the drained host");

        var undrain = await admin.PostAsync($"api/v1/admin/hosts/{id}/undrain", null);
        await HostAsync(admin, h => !h.GetProperty("draining").GetBoolean() && h.GetProperty("ready").GetBoolean());
        Assert.That((await ApiClient.ReadAsync(undrain)).GetProperty("drained").GetBoolean(), Is.False);
        Assert.That(await AskAsync(user, chat, "after"), Is.EqualTo("model"));

        await using var scope = host.Services.CreateAsyncScope();
        var audit = await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None);
        Assert.That(audit.Where(a => a.Outcome == AuditOutcome.Succeeded).Select(a => (a.Command, a.Arguments)),
            Is.SupersetOf(new[] { ("drain", (string?)$"host={id:D}"), ("undrain", $"host={id:D}") }));
    }

    [Test]
    public async Task DrainingAHostThatIsNotOnline_IsNotFound_AndAnEmptyId_IsABadRequestNamingIt()
    {
        await using var host = await new ApiHost(withEngine: true, storage: storage).StartAsync();
        var admin = await host.FirstAdminAsync();

        var unknown = await admin.PostAsync($"api/v1/admin/hosts/{Guid.NewGuid()}/drain", null);
        var empty = await admin.PostAsync($"api/v1/admin/hosts/{Guid.Empty}/drain", null);
        var undrainUnknown = await admin.PostAsync($"api/v1/admin/hosts/{Guid.NewGuid()}/undrain", null);

        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "a mistyped id drains nothing");
        Assert.That(empty.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(empty)).GetProperty("errors").EnumerateObject().Select(p => p.Name),
            Is.EqualTo(new[] { "id" }));
        Assert.That(undrainUnknown.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a host gone offline can still be undrained");
    }
}
