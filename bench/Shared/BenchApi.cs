using System.Net.Http.Json;
using System.Text.Json;

namespace MeatLizard.Bench;

/// <summary>The REST calls the relay benchmarks make: sign up one user, start chats, send and wait for the answer.</summary>
internal static class BenchApi
{
    /// <summary>A new user's access token.</summary>
    public static async Task<string> SignUpAsync(HttpClient http)
    {
        var credentials = new { username = "bench_" + Guid.NewGuid().ToString("N")[..8], password = "benchmark password" };
        (await http.PostAsJsonAsync("api/v1/auth/register", credentials)).EnsureSuccessStatusCode();
        var login = await http.PostAsJsonAsync("api/v1/auth/login", credentials);
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
    }

    /// <summary>True when the message was answered by the model (not refused, not a fallback or notice).</summary>
    public static async Task<bool> SendAsync(HttpClient http, Guid chatId, CancellationToken cancellationToken = default)
    {
        using var response = await http.PostAsJsonAsync(
            $"api/v1/sessions/{chatId}/send?wait=true", new { content = "What is the answer?" }, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return false;
        }

        var message = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return message.GetProperty("source").GetString() == "model";
    }

    public static async Task<Guid> CreateSessionAsync(HttpClient http, CancellationToken cancellationToken = default)
    {
        var created = await http.PostAsJsonAsync("api/v1/sessions", new { title = "bench" }, cancellationToken);
        created.EnsureSuccessStatusCode();
        return (await created.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetGuid();
    }
}
