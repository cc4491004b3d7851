using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace MeatLizard.Api.Tests.Support;

/// <summary>An HTTP client that speaks the API's JSON, with helpers for the common journeys.</summary>
public sealed class ApiClient(HttpClient http) : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public HttpClient Http { get; } = http;

    public string? AccessToken { get; private set; }

    public Task<HttpResponseMessage> PostAsync(string path, object? body) =>
        Http.PostAsync(path, body is null ? null : JsonContent.Create(body, options: Json));

    public Task<HttpResponseMessage> PatchAsync(string path, object body) =>
        Http.PatchAsync(path, JsonContent.Create(body, options: Json));

    public Task<HttpResponseMessage> PutAsync(string path, object body) =>
        Http.PutAsync(path, JsonContent.Create(body, options: Json));

    public Task<HttpResponseMessage> GetAsync(string path) => Http.GetAsync(path);

    public Task<HttpResponseMessage> DeleteAsync(string path) => Http.DeleteAsync(path);

    /// <summary>Registers a fresh user, logs in, and uses the access token from then on.</summary>
    public async Task<string> SignUpAsync(string? username = null, string password = "correct horse battery")
    {
        username ??= "u" + Guid.NewGuid().ToString("N")[..12];
        (await PostAsync("api/v1/auth/register", new { username, password })).EnsureSuccessStatusCode();
        await SignInAsync(username, password);
        return username;
    }

    /// <summary>Logs in and uses the access token from then on.</summary>
    public async Task SignInAsync(string username, string password)
    {
        var login = await PostAsync("api/v1/auth/login", new { username, password });
        login.EnsureSuccessStatusCode();
        UseBearer((await login.Content.ReadFromJsonAsync<JsonElement>(Json)).GetProperty("accessToken").GetString()!);
    }

    public void UseBearer(string token)
    {
        AccessToken = token;
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public async Task<Guid> CreateSessionAsync(object? settings = null)
    {
        var response = await PostAsync("api/v1/sessions", settings ?? new { title = "test chat" });
        response.EnsureSuccessStatusCode();
        return (await ReadAsync(response)).GetProperty("id").GetGuid();
    }

    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>(Json);

    public void Dispose() => Http.Dispose();
}
