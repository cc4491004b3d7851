using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Stored transcripts through the API: on demand (<c>?store=true</c>) and on close, read back through the returned
/// link with a plain HttpClient. Embedded (file system, the API's signed download route) and distributed (Redis for
/// rate limits, events and presence; S3 for objects, presigned links straight to the S3 server started by ./test.sh).
/// </summary>
[TestFixture("FileSystem")]
[TestFixture("RedisAndS3")]
public sealed class TranscriptApiTests(string mode)
{
    private ApiHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var settings = new Dictionary<string, string?>();
        if (mode == "RedisAndS3")
        {
            settings["Cache:Provider"] = "Redis";
            settings["ConnectionStrings:Redis"] = Required("MEATLIZARD_TEST_REDIS", "Redis");
            settings["Cache:Redis:KeyPrefix"] = $"api-test:{Guid.NewGuid():N}:";
            settings["ObjectStore:Provider"] = "S3";
            settings["ObjectStore:S3:ServiceUrl"] = Required("MEATLIZARD_TEST_S3", "the S3 server (s3rver)");
            settings["ObjectStore:S3:AccessKey"] = Required("MEATLIZARD_TEST_S3_ACCESS_KEY", "the S3 server (s3rver)");
            settings["ObjectStore:S3:SecretKey"] = Required("MEATLIZARD_TEST_S3_SECRET_KEY", "the S3 server (s3rver)");
            settings["ObjectStore:S3:Bucket"] = Required("MEATLIZARD_TEST_S3_BUCKET", "the S3 server (s3rver)");
        }

        _host = await new ApiHost(settings).StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Test]
    public async Task StoreOnDemand_ThenDownloadWithoutSigningIn_GivesTheSameTranscript()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        (await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "=1+1, \"quoted\" ünïcode" }))
            .EnsureSuccessStatusCode();
        var expectedJson = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/transcript"));
        var expectedCsv = await (await client.GetAsync($"api/v1/sessions/{id}/transcript?format=csv")).Content.ReadAsStringAsync();

        var response = await client.GetAsync($"api/v1/sessions/{id}/transcript?store=true");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var stored = await ApiClient.ReadAsync(response);
        using var anonymous = new HttpClient();
        var json = await anonymous.GetAsync(new Uri(stored.GetProperty("jsonUrl").GetString()!));
        var csv = await anonymous.GetAsync(new Uri(stored.GetProperty("csvUrl").GetString()!));
        var downloadedJson = JsonDocument.Parse(await json.Content.ReadAsByteArrayAsync()).RootElement;

        Assert.Multiple(async () =>
        {
            Assert.That(stored.GetProperty("jsonKey").GetString(),
                Does.Match($"^transcripts/[0-9a-f-]{{36}}/{id}/[0-9T.]+Z\\.json$"));
            Assert.That(stored.GetProperty("csvKey").GetString(), Does.Match($"^transcripts/[0-9a-f-]{{36}}/{id}/.+\\.csv$"));
            Assert.That(json.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Messages(downloadedJson), Is.EqualTo(Messages(expectedJson)));
            Assert.That(Messages(downloadedJson), Has.Count.EqualTo(2));
            Assert.That(downloadedJson.GetProperty("session").GetProperty("id").GetGuid(), Is.EqualTo(id));
            Assert.That(csv.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await csv.Content.ReadAsStringAsync(), Is.EqualTo(expectedCsv));
        });
    }

    [Test]
    public async Task Close_StoresTheTranscript_AndAnswersItsLinks()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        (await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "bye" })).EnsureSuccessStatusCode();

        var closed = await client.DeleteAsync($"api/v1/sessions/{id}");
        var transcript = (await ApiClient.ReadAsync(closed)).GetProperty("transcript");
        using var anonymous = new HttpClient();
        var download = JsonDocument.Parse(
            await anonymous.GetByteArrayAsync(new Uri(transcript.GetProperty("jsonUrl").GetString()!))).RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(closed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(download.GetProperty("session").GetProperty("status").GetString(), Is.EqualTo("closed"));
            Assert.That(Messages(download).First(), Is.EqualTo(("user", "bye")));
        });
    }

    [Test]
    public async Task ClosingAgain_StoresNothingMore_AndClosesSideBySideStoreOnce()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var first = await client.DeleteAsync($"api/v1/sessions/{id}");
        var again = await client.DeleteAsync($"api/v1/sessions/{id}");
        var other = await client.CreateSessionAsync();
        var sideBySide = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.DeleteAsync($"api/v1/sessions/{other}")));

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the close stores the transcript");
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.NoContent), "closing a closed chat stores nothing");
        Assert.That(sideBySide.Count(r => r.StatusCode == HttpStatusCode.OK), Is.EqualTo(1), "one close, one transcript");
        Assert.That(sideBySide.Count(r => r.StatusCode == HttpStatusCode.NoContent), Is.EqualTo(7));
    }

    [Test]
    public async Task Store_AnotherUsersSession_IsNotFound()
    {
        using var owner = _host.NewClient();
        await owner.SignUpAsync();
        var id = await owner.CreateSessionAsync();
        using var stranger = _host.NewClient();
        await stranger.SignUpAsync();

        var response = await stranger.GetAsync($"api/v1/sessions/{id}/transcript?store=true");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task DownloadLink_PointsAtTheStore_AndOursCannotBeAltered()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        var stored = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/transcript?store=true"));
        var url = stored.GetProperty("jsonUrl").GetString()!;

        if (mode == "RedisAndS3")
        {
            // A presigned URL straight to the S3 server; S3 checks its signature (s3rver only checks its expiry).
            // A day, to the second: the SDK signs with its clock corrected by the server's Date header, which has whole
            // seconds only, so the lifetime it writes can come out one second longer.
            Assert.That(url, Does.StartWith(Required("MEATLIZARD_TEST_S3", "the S3 server (s3rver)") + "/")
                .And.Contain("X-Amz-Signature=").And.Match("X-Amz-Expires=8640[01](&|$)"));
            return;
        }

        using var anonymous = new HttpClient();
        var otherKey = await anonymous.GetAsync(new Uri(url.Replace(".json&", ".csv&", StringComparison.Ordinal)));
        var longer = await anonymous.GetAsync(new Uri(Regex.Replace(url, "expires=([0-9]+)",
            m => $"expires={long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 60}")));

        Assert.Multiple(() =>
        {
            Assert.That(url, Does.StartWith(_host.BaseAddress + "api/v1/objects/download?"));
            Assert.That(otherKey.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(longer.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        });
    }

    private static List<(string Role, string Content)> Messages(JsonElement transcript) =>
        transcript.GetProperty("messages").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();

    private static string Required(string name, string server)
    {
        var value = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{name} is not set: run ./test.sh, which starts {server}.");
        }

        return value!;
    }
}
