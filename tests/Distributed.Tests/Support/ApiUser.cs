using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>A signed-in user talking to several API instances with the same access token.</summary>
public sealed class ApiUser(string accessToken, IReadOnlyList<Uri> apis) : IDisposable
{
    private readonly HttpClient[] _clients = [.. apis.Select(api => new HttpClient
    {
        BaseAddress = api,
        Timeout = TimeSpan.FromSeconds(90),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", accessToken) },
    })];

    public string AccessToken { get; } = accessToken;

    /// <summary>Registers and signs in at API instance <paramref name="at"/>.</summary>
    public static async Task<ApiUser> SignUpAsync(IReadOnlyList<Uri> apis, int at = 0)
    {
        using var http = new HttpClient { BaseAddress = apis[at] };
        var credentials = new { username = "u" + Guid.NewGuid().ToString("N")[..12], password = "correct horse battery" };
        (await http.PostAsJsonAsync("api/v1/auth/register", credentials)).EnsureSuccessStatusCode();
        var login = await http.PostAsJsonAsync("api/v1/auth/login", credentials);
        login.EnsureSuccessStatusCode();
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
        return new ApiUser(token, apis);
    }

    /// <summary>
    /// Registers at instance 0, is made an admin in the database (no endpoint does that yet), and signs in at instance
    /// 1, which has not read the user before: its token says admin.
    /// </summary>
    public static async Task<ApiUser> SignUpAdminAsync(Cluster cluster)
    {
        var apis = cluster.Apis;
        var credentials = new { username = "a" + Guid.NewGuid().ToString("N")[..12], password = "correct horse battery" };
        using (var first = new HttpClient { BaseAddress = apis[0] })
        {
            (await first.PostAsJsonAsync("api/v1/auth/register", credentials)).EnsureSuccessStatusCode();
        }

        await cluster.QueryAsync<object>("UPDATE users SET role = 'admin' WHERE username = @Username",
            new { Username = credentials.username });
        using var second = new HttpClient { BaseAddress = apis[apis.Count - 1] };
        var login = await second.PostAsJsonAsync("api/v1/auth/login", credentials);
        login.EnsureSuccessStatusCode();
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
        return new ApiUser(token, apis);
    }

    public HttpClient At(int instance) => _clients[instance];

    public async Task<Guid> CreateSessionAsync(int at = 0, string? model = null)
    {
        var created = await At(at).PostAsJsonAsync("api/v1/sessions", new { title = "distributed", model });
        created.EnsureSuccessStatusCode();
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    /// <summary>POST send; returns the status and the body (the answer with wait, else the ids).</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(int at, Guid chatId, string content, bool wait = false)
    {
        using var response = await At(at).PostAsJsonAsync($"api/v1/sessions/{chatId}/send{(wait ? "?wait=true" : "")}", new { content });
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }

    public async Task<JsonElement[]> MessagesAsync(int at, Guid chatId)
    {
        var page = await At(at).GetFromJsonAsync<JsonElement>($"api/v1/sessions/{chatId}/messages?limit=100");
        return [.. page.GetProperty("messages").EnumerateArray()];
    }

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }
}
