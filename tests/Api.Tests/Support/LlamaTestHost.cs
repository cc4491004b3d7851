using System.Net;

namespace MeatLizard.Api.Tests.Support;

/// <summary>What the tests on the real llama.cpp engine share: its environment, and waiting for its worker.</summary>
public static class LlamaTestHost
{
    /// <summary>A variable that scripts/test-services/llama.sh sets; ./test.sh sets them all.</summary>
    public static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set: run ./test.sh, which builds llama.cpp and the test model (scripts/test-services/llama.sh).");

    /// <summary>Whether the host's first worker says its engine is ready (<c>GET /api/v1/status</c>).</summary>
    public static async Task<bool> WorkerReadyAsync(ApiClient client)
    {
        var response = await client.GetAsync("api/v1/status");
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return false;
        }

        var workers = (await ApiClient.ReadAsync(response)).GetProperty("workers");
        return workers.GetArrayLength() > 0 && workers[0].GetProperty("ready").GetBoolean();
    }
}
