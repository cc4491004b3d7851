using MeatLizard.Application.Abstractions;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// An API whose model host answers from an OpenAI-compatible upstream (a <see cref="LoopbackChatServer"/>), with a
/// signed-up user's API key for the SDK: <paramref name="settings"/> name the upstream's models
/// (<c>Inference:OpenAiCompatible:Models:…</c>, <c>Inference:DefaultModel</c>); started once the host is heard as
/// <paramref name="ready"/> says.
/// </summary>
public static class UpstreamHost
{
    public static async Task<(ApiHost Host, string Key)> StartAsync(LoopbackChatServer upstream,
        IDictionary<string, string?> settings, Func<HostHealth, bool> ready, string what)
    {
        var host = await new ApiHost(new Dictionary<string, string?>(settings)
        {
            ["Inference:Engine"] = "OpenAiCompatible",
            ["Inference:OpenAiCompatible:BaseUrl"] = upstream.BaseUrl.ToString(),
        }, withEngine: false).StartAsync();
        using var owner = host.NewClient();
        await owner.SignUpAsync();
        var key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" })))
            .GetProperty("key").GetString()!;
        await host.WaitForHostsAsync(hosts => hosts.Any(h => h.TakesWork && ready(h)), what);
        return (host, key);
    }
}
