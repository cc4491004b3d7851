using System.Net;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Personas and per-user defaults: each user's own, the shared ones only admins make (audited), a chat started with a
/// persona gets its system prompt, model and temperature, and a new chat without one gets the user's defaults.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class PersonaApiTests(string storage) : ApiHostFixture(storage)
{
    [Test]
    public async Task APersona_StartsAChatWithItsPromptModelAndTemperature_AndIsItsOwnersAlone()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        using var other = Host.NewClient();
        await other.SignUpAsync();

        var created = await owner.PostAsync("api/v1/personas",
            new { name = "Pirate", systemPrompt = "Talk like a pirate.", model = "pirate-7b", temperature = 1.3 });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        var persona = await ApiClient.ReadAsync(created);
        var id = persona.GetProperty("id").GetGuid();

        var chat = await ApiClient.ReadAsync(await owner.PostAsync("api/v1/sessions", new { personaId = id }));
        var overridden = await ApiClient.ReadAsync(await owner.PostAsync("api/v1/sessions",
            new { personaId = id, systemPrompt = "Be a parrot.", temperature = 0.2 }));
        Assert.Multiple(() =>
        {
            Assert.That(chat.GetProperty("systemPrompt").GetString(), Is.EqualTo("Talk like a pirate."));
            Assert.That(chat.GetProperty("model").GetString(), Is.EqualTo("pirate-7b"));
            Assert.That(chat.GetProperty("temperature").GetDouble(), Is.EqualTo(1.3));
            Assert.That(overridden.GetProperty("systemPrompt").GetString(), Is.EqualTo("Be a parrot."), "the request's own wins");
            Assert.That(overridden.GetProperty("temperature").GetDouble(), Is.EqualTo(0.2));
        });

        var updated = await owner.PutAsync($"api/v1/personas/{id}", new { name = "Captain", systemPrompt = "Give orders." });
        Assert.That(updated.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(IsUnset(await ApiClient.ReadAsync(updated), "model"), Is.True, "the model was taken out");

        Assert.Multiple(async () =>
        {
            Assert.That(await NamesAsync(other), Does.Not.Contain("Captain"), "another user does not see it");
            Assert.That((await other.PutAsync($"api/v1/personas/{id}", new { name = "Mine", systemPrompt = "x" })).StatusCode,
                Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That((await other.DeleteAsync($"api/v1/personas/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That((await other.PostAsync("api/v1/sessions", new { personaId = id })).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(await NamesAsync(owner), Does.Contain("Captain"));
        });

        Assert.That((await owner.DeleteAsync($"api/v1/personas/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await owner.DeleteAsync($"api/v1/personas/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var stillThere = await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat.GetProperty("id").GetGuid()}"));
        Assert.That(stillThere.GetProperty("systemPrompt").GetString(), Is.EqualTo("Talk like a pirate."), "a chat keeps what it copied");
    }

    [Test]
    public async Task SharedPersonas_AreMadeByAdminsOnly_Audited_AndUsableByEveryone()
    {
        using var admin = await Host.AdminClientAsync();
        using var user = Host.NewClient();
        await user.SignUpAsync();

        var refused = await user.PostAsync("api/v1/personas", new { name = "Everyone's", systemPrompt = "Hi.", shared = true });
        var created = await admin.PostAsync("api/v1/personas", new { name = "Tutor", systemPrompt = "Explain step by step.", shared = true });
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        var id = (await ApiClient.ReadAsync(created)).GetProperty("id").GetGuid();

        var listed = (await ApiClient.ReadAsync(await user.GetAsync("api/v1/personas"))).EnumerateArray()
            .Single(p => p.GetProperty("id").GetGuid() == id);
        var chat = await ApiClient.ReadAsync(await user.PostAsync("api/v1/sessions", new { personaId = id }));
        Assert.Multiple(async () =>
        {
            Assert.That(listed.GetProperty("shared").GetBoolean(), Is.True);
            Assert.That(listed.GetProperty("canChange").GetBoolean(), Is.False);
            Assert.That(chat.GetProperty("systemPrompt").GetString(), Is.EqualTo("Explain step by step."));
            Assert.That((await user.PutAsync($"api/v1/personas/{id}", new { name = "Mine", systemPrompt = "x" })).StatusCode,
                Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That((await user.DeleteAsync($"api/v1/personas/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That((await admin.PostAsync("api/v1/personas", new { name = "tutor", systemPrompt = "Again.", shared = true })).StatusCode,
                Is.EqualTo(HttpStatusCode.Conflict), "names are unique among the shared ones, whatever the case");
        });
        Assert.That((await admin.DeleteAsync($"api/v1/personas/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        await using var scope = Host.Services.CreateAsyncScope();
        var audit = await scope.ServiceProvider.GetRequiredService<IAuditLog>().ListRecentAsync(50, CancellationToken.None);
        Assert.That(audit.Select(e => (e.Command, e.Outcome)), Is.SupersetOf(new[]
        {
            ("persona create", AuditOutcome.Refused), ("persona create", AuditOutcome.Succeeded),
            ("persona delete", AuditOutcome.Succeeded),
        }));
    }

    [Test]
    public async Task BadInput_IsAProblemNamingTheField()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        Assert.Multiple(async () =>
        {
            await AssertFieldAsync(await client.PostAsync("api/v1/personas", new { name = "", systemPrompt = "x" }), "name");
            await AssertFieldAsync(await client.PostAsync("api/v1/personas", new { name = new string('n', 41), systemPrompt = "x" }), "name");
            await AssertFieldAsync(await client.PostAsync("api/v1/personas", new { name = "A" }), "systemPrompt");
            await AssertFieldAsync(await client.PostAsync("api/v1/personas",
                new { name = "A", systemPrompt = new string('p', 8_001) }), "systemPrompt");
            await AssertFieldAsync(await client.PostAsync("api/v1/personas", new { name = "A", systemPrompt = "x", model = "bad model!" }), "model");
            await AssertFieldAsync(await client.PostAsync("api/v1/personas", new { name = "A", systemPrompt = "x", temperature = 3 }), "temperature");
            await AssertFieldAsync(await client.PutAsync("api/v1/auth/preferences", new { defaultModel = new string('m', 101) }), "defaultModel");
            await AssertFieldAsync(await client.PutAsync("api/v1/auth/preferences", new { systemPrompt = new string('p', 8_001) }), "systemPrompt");
            await AssertFieldAsync(await client.PostAsync("api/v1/sessions", new { personaId = Guid.Empty }), "personaId");
            var unknown = await client.PostAsync("api/v1/sessions", new { personaId = Guid.NewGuid() });
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
        using var anonymous = Host.NewClient();
        Assert.That((await anonymous.GetAsync("api/v1/personas")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await anonymous.GetAsync("api/v1/auth/preferences")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task TheUsersDefaults_AreReadBack_AndStartTheirNewChats()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var empty = await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/preferences"));
        Assert.That(IsUnset(empty, "defaultModel"), Is.True);

        var put = await client.PutAsync("api/v1/auth/preferences", new { defaultModel = "house-model", systemPrompt = "Answer in French." });
        Assert.That(put.StatusCode, Is.EqualTo(HttpStatusCode.OK), await put.Content.ReadAsStringAsync());
        var read = await ApiClient.ReadAsync(await client.GetAsync("api/v1/auth/preferences"));
        var chat = await ApiClient.ReadAsync(await client.PostAsync("api/v1/sessions", new { title = "defaults" }));
        var own = await ApiClient.ReadAsync(await client.PostAsync("api/v1/sessions", new { model = "other-model" }));
        Assert.Multiple(() =>
        {
            Assert.That(read.GetProperty("defaultModel").GetString(), Is.EqualTo("house-model"));
            Assert.That(read.GetProperty("systemPrompt").GetString(), Is.EqualTo("Answer in French."));
            Assert.That(chat.GetProperty("model").GetString(), Is.EqualTo("house-model"));
            Assert.That(chat.GetProperty("systemPrompt").GetString(), Is.EqualTo("Answer in French."));
            Assert.That(own.GetProperty("model").GetString(), Is.EqualTo("other-model"), "the chat's own model wins");
        });

        (await client.PutAsync("api/v1/auth/preferences", new { defaultModel = "", systemPrompt = "" })).EnsureSuccessStatusCode();
        var plain = await ApiClient.ReadAsync(await client.PostAsync("api/v1/sessions", new { title = "plain" }));
        Assert.That(IsUnset(plain, "systemPrompt"), Is.True, "cleared defaults give nothing");
    }

    /// <summary>Null, or left out (the API writes no nulls).</summary>
    private static bool IsUnset(System.Text.Json.JsonElement element, string property) =>
        !element.TryGetProperty(property, out var value) || value.ValueKind == System.Text.Json.JsonValueKind.Null;

    private static async Task<List<string?>> NamesAsync(ApiClient client) =>
        (await ApiClient.ReadAsync(await client.GetAsync("api/v1/personas"))).EnumerateArray()
        .Select(p => p.GetProperty("name").GetString()).ToList();

    private static async Task AssertFieldAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _),
            Is.True, $"names {field}: {body}");
    }
}
