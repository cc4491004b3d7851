using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.OpenAiCompatible;
using MeatLizard.Presentation.Api;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.OpenAiCompatible;

/// <summary>Bad OpenAI-compatible settings stop start-up with one line naming the setting.</summary>
public sealed class OpenAiCompatibleConfigurationTests
{
    private static IConfiguration Settings(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>($"Inference:OpenAiCompatible:{v.Key}", v.Value)))
            .Build();

    private static string ErrorOf(params (string Key, string? Value)[] values) =>
        Assert.Throws<ConfigurationException>(() => OpenAiCompatibleOptions.Read(Settings(values)))!.Message;

    [Test]
    public void MissingBaseUrl_NamesTheSetting()
    {
        Assert.That(ErrorOf(("Models:0", "llama3.2")), Is.EqualTo(
            "Inference:OpenAiCompatible:BaseUrl is not set: give the OpenAI-compatible server's address, e.g. http://127.0.0.1:11434/v1 for Ollama."));
    }

    [TestCase("localhost:11434")]
    [TestCase("ftp://127.0.0.1/v1")]
    [TestCase("http://127.0.0.1:1234/v1?x=1")]
    [TestCase("http://user:hunter2@127.0.0.1:1234/v1")]
    public void InvalidBaseUrl_NamesTheSetting_WithoutRepeatingIt(string url)
    {
        var error = ErrorOf(("BaseUrl", url), ("Models:0", "llama3.2"));

        Assert.That(error, Is.EqualTo(
            "Inference:OpenAiCompatible:BaseUrl is not an http(s) address without query or credentials, e.g. http://127.0.0.1:1234/v1."));
        Assert.That(error, Does.Not.Contain("hunter2"));
    }

    [Test]
    public void NoModels_NamesTheSetting()
    {
        Assert.That(ErrorOf(("BaseUrl", "http://127.0.0.1:11434")), Does.StartWith("Inference:OpenAiCompatible:Models lists no model"));
    }

    [Test]
    public void AModelWithoutAName_NamesItsKey()
    {
        Assert.That(ErrorOf(("BaseUrl", "http://127.0.0.1:11434"), ("Models:0", "a"), ("Models:1:Upstream", "b")),
            Is.EqualTo("Inference:OpenAiCompatible:Models:1:Name is empty: give the model's name."));
    }

    [Test]
    public void ANameThatIsNoModelName_NamesItsKey_AndSaysWhereTheUpstreamIdGoes()
    {
        Assert.That(ErrorOf(("BaseUrl", "http://127.0.0.1:11434"), ("Models:0", "Meta Llama 3 (8B)")),
            Does.StartWith("Inference:OpenAiCompatible:Models:0 'Meta Llama 3 (8B)' is not a model name").And.EndWith(
                "give it one as Name and the server's id as Upstream."));
    }

    [Test]
    public void ANameListedTwice_NamesTheSecond()
    {
        Assert.That(ErrorOf(("BaseUrl", "http://127.0.0.1:11434"), ("Models:0", "fast"), ("Models:1:Name", "fast"),
                ("Models:1:Upstream", "qwen2.5:0.5b")),
            Is.EqualTo("Inference:OpenAiCompatible:Models:1:Name 'fast' is listed twice."));
    }

    [TestCase("http://127.0.0.1:11434", "http://127.0.0.1:11434/v1/")]
    [TestCase("http://127.0.0.1:11434/", "http://127.0.0.1:11434/v1/")]
    [TestCase("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1/")]
    [TestCase("https://models.example/api/v1/", "https://models.example/api/v1/")]
    [TestCase("https://models.example/openai", "https://models.example/openai/v1/")]
    public void BaseUrl_WithOrWithoutV1_IsTheApiRoot(string configured, string root)
    {
        var options = OpenAiCompatibleOptions.Read(Settings(("BaseUrl", configured), ("Models:0", "m")));

        Assert.That(options.BaseUrl, Is.EqualTo(new Uri(root)));
        Assert.That(new Uri(options.BaseUrl, "chat/completions").AbsolutePath, Does.EndWith("/v1/chat/completions"));
    }

    [Test]
    public void Models_ByNameOrWithAnUpstreamId_InTheirOrder()
    {
        var options = OpenAiCompatibleOptions.Read(Settings(("BaseUrl", "http://127.0.0.1:1234/v1"), ("ApiKey", " lm-studio "),
            ("Models:0:Name", "fast"), ("Models:0:Upstream", "lmstudio-community/Qwen2.5 0.5B@q4_k_m"),
            ("Models:1", "llama3.2:3b"), ("Models:2:Name", "big")));

        Assert.That(options.Models, Is.EqualTo(new[]
        {
            new OpenAiCompatibleModel("fast", "lmstudio-community/Qwen2.5 0.5B@q4_k_m"),
            new OpenAiCompatibleModel("llama3.2:3b", "llama3.2:3b"),
            new OpenAiCompatibleModel("big", "big"),
        }));
        Assert.That(options.ApiKey, Is.EqualTo("lm-studio"));
    }

    [Test]
    public void AddInferenceEngine_RegistersTheOpenAiCompatibleEngine()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "OpenAiCompatible",
            ["Inference:OpenAiCompatible:BaseUrl"] = "http://127.0.0.1:11434",
            ["Inference:OpenAiCompatible:Models:0"] = "llama3.2:3b",
            ["Data:Root"] = Path.Combine(Path.GetTempPath(), "meatlizard-oaic-di-" + Guid.NewGuid().ToString("N")),
        });
        builder.Services.AddLogging();

        builder.Services.AddInferenceEngine(builder.Configuration, builder.AddInfrastructureSettings());
        using var provider = builder.Services.BuildServiceProvider();

        Assert.That(provider.GetServices<IInferenceEngine>().Single(), Is.InstanceOf<OpenAiCompatibleEngine>());
    }

    [Test]
    public void ApiHost_OpenAiCompatibleWithoutModels_StopsWithOneLine()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "OpenAiCompatible",
            ["Inference:OpenAiCompatible:BaseUrl"] = "http://127.0.0.1:11434/v1",
        });

        var error = Assert.Throws<ConfigurationException>(() => builder.AddPlatform());

        Assert.That(HostRunner.Describe(error!), Does.StartWith("Inference:OpenAiCompatible:Models lists no model"));
        Assert.That(HostRunner.Describe(error!), Does.Not.Contain("\n"));
    }
}
