using MeatLizard.Presentation.Api;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>Bad llama.cpp settings stop start-up with one line naming the setting.</summary>
public sealed class LlamaCppConfigurationTests
{
    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    [TestCase("Temperature", "3", "Inference:Temperature '3' must be a number from 0 to 2.")]
    [TestCase("TopP", "x", "Inference:TopP 'x' must be a number from 0 to 1.")]
    [TestCase("ContextSize", "12", "Inference:ContextSize '12' must be a whole number from 256 to 1048576.")]
    [TestCase("Parallel", "0", "Inference:Parallel '0' must be a whole number from 1 to 64.")]
    [TestCase("Threads", "-2", "Inference:Threads '-2' must be a whole number from 0 to 1024.")]
    [TestCase("TimeoutSeconds", "0", "Inference:TimeoutSeconds '0' must be a number from 0.001 to 86400.")]
    [TestCase("HangTimeoutSeconds", "0", "Inference:HangTimeoutSeconds '0' must be a whole number from 1 to 3600.")]
    public void Read_BadValue_NamesTheKey(string key, string value, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => LlamaCppOptions.Read(Settings(($"Inference:{key}", value))));

        Assert.That(error!.Message, Is.EqualTo(expected));
    }

    [Test]
    public void Read_MaxTokensNotBelowContextSize_NamesBoth()
    {
        var error = Assert.Throws<ConfigurationException>(() => LlamaCppOptions.Read(
            Settings(("Inference:ContextSize", "512"), ("Inference:MaxTokens", "512"))));

        Assert.That(error!.Message, Does.StartWith("Inference:MaxTokens (512) must be smaller than Inference:ContextSize (512)"));
    }

    [Test]
    public void Read_Defaults()
    {
        var options = LlamaCppOptions.Read(Settings(("Inference:ExtraArgs:0", "--mlock")));

        Assert.Multiple(() =>
        {
            Assert.That(options.ContextSize, Is.EqualTo(4096));
            Assert.That(options.MaxTokens, Is.EqualTo(512));
            Assert.That(options.Parallel, Is.EqualTo(1));
            Assert.That(options.TimeoutSeconds, Is.EqualTo(300));
            Assert.That(options.ExtraArgs, Is.EqualTo(new[] { "--mlock" }));
        });
    }

    [Test]
    public void Resolve_MissingLlamaCppDir_NamesTheSetting()
    {
        var options = LlamaCppOptions.Read(Settings(("Inference:LlamaCppDir", "/nonexistent/llama"),
            ("Inference:ModelPath", LlamaTestEnvironment.ModelPath)));

        var error = Assert.Throws<ConfigurationException>(() => LlamaCppInstallation.Resolve(options, false));

        Assert.That(error!.Message, Is.EqualTo("Inference:LlamaCppDir '/nonexistent/llama' does not exist."));
    }

    [Test]
    public void Resolve_DirectoryWithoutBinaries_NamesTheSetting()
    {
        var empty = Directory.CreateTempSubdirectory("meatlizard-empty-").FullName;
        try
        {
            var options = LlamaCppOptions.Read(Settings(("Inference:LlamaCppDir", empty)));

            var server = Assert.Throws<ConfigurationException>(() => LlamaCppInstallation.Resolve(options, false));
            var cli = Assert.Throws<ConfigurationException>(() => LlamaCppInstallation.Resolve(options, true));

            Assert.That(server!.Message, Is.EqualTo($"Inference:LlamaCppDir '{empty}' holds no llama-server."));
            Assert.That(cli!.Message, Is.EqualTo($"Inference:LlamaCppDir '{empty}' holds neither llama-completion nor llama-cli."));
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Test]
    public void Resolve_MissingModel_NamesTheSetting()
    {
        var options = LlamaCppOptions.Read(Settings(("Inference:LlamaCppDir", LlamaTestEnvironment.LlamaDir),
            ("Inference:ModelPath", "/nonexistent/model.gguf")));

        var error = Assert.Throws<ConfigurationException>(() => LlamaCppInstallation.Resolve(options, false));

        Assert.That(error!.Message, Is.EqualTo("Inference:ModelPath '/nonexistent/model.gguf' does not exist."));
    }

    [TestCase("LlamaServer", typeof(LlamaServerEngine))]
    [TestCase("LlamaCli", typeof(LlamaCliEngine))]
    public void AddInferenceEngine_RegistersTheConfiguredEngine(string engine, Type expected)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = engine,
            ["Inference:LlamaCppDir"] = LlamaTestEnvironment.LlamaDir,
            ["Inference:ModelPath"] = LlamaTestEnvironment.ModelPath,
            ["Data:Root"] = Path.Combine(Path.GetTempPath(), "meatlizard-llama-di-" + Guid.NewGuid().ToString("N")),
        });

        builder.Services.AddInferenceEngine(builder.Configuration, builder.AddInfrastructureSettings());

        Assert.That(builder.Services.Count(d => d.ServiceType == typeof(IInferenceEngine)), Is.EqualTo(1));
        Assert.That(builder.Services.Any(d => d.ServiceType == expected || d.ImplementationType == expected), Is.True);
    }

    [Test]
    public void ApiHost_EngineWithMissingModel_StopsWithOneLine()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "LlamaServer",
            ["Inference:LlamaCppDir"] = LlamaTestEnvironment.LlamaDir,
            ["Inference:ModelPath"] = "missing.gguf",
        });

        var error = Assert.Throws<ConfigurationException>(() => builder.AddPlatform());

        Assert.That(HostRunner.Describe(error!), Is.EqualTo("Inference:ModelPath 'missing.gguf' does not exist."));
    }
}
