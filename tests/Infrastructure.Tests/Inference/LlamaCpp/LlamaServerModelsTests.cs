using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using MeatLizard.Presentation.Api;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>A host serving several models (Inference:Models): one real llama-server per model, requests routed by name.</summary>
[NonParallelizable]
public sealed class LlamaServerModelsTests
{
    private static Dictionary<string, string?> TwoModels() => new()
    {
        ["Inference:Engine"] = "LlamaServer",
        ["Inference:LlamaCppDir"] = LlamaDir,
        ["Inference:ContextSize"] = "1024",
        ["Inference:MaxTokens"] = "64",
        ["Inference:Seed"] = "7",
        ["Inference:Threads"] = "1",
        ["Inference:ExtraArgs:0"] = "--ignore-eos",
        ["Inference:Models:0:Name"] = "small",
        ["Inference:Models:0:ModelPath"] = ModelPath,
        ["Inference:Models:1:Name"] = "big:q8",
        ["Inference:Models:1:ModelPath"] = ModelPath,
        ["Inference:Models:1:Parallel"] = "2",
        ["Inference:Models:1:ContextSize"] = "512",
        ["Data:Root"] = Path.Combine(Path.GetTempPath(), "meatlizard-models-" + Guid.NewGuid().ToString("N")),
    };

    private static IConfiguration Settings(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Test]
    public async Task EachModel_HasItsOwnServer_AndRequestsGoToTheModelTheyName()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(TwoModels());
        builder.Services.AddLogging();
        builder.Services.AddInferenceEngine(builder.Configuration, builder.AddInfrastructureSettings());
        await using var provider = builder.Services.BuildServiceProvider();
        var engine = (LlamaServerModels)provider.GetRequiredService<IInferenceEngine>();
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine["small"].WaitUntilReadyAsync(CancellationToken.None);
            await engine["big:q8"].WaitUntilReadyAsync(CancellationToken.None);

            var health = await engine.CheckHealthAsync(CancellationToken.None);
            Assert.That((health.Ready, health.Detail, health.Slots), Is.EqualTo((true, (string?)null, (int?)3)));
            Assert.That(health.Models, Is.EqualTo(new[] { "small", "big:q8" }));
            Assert.That(engine["small"].BaseAddress, Is.Not.EqualTo(engine["big:q8"].BaseAddress), "one server per model");

            // The same conversation twice to "big:q8": its own server's prompt cache serves the second, "small"'s
            // server never saw it.
            var request = Request("Where do lizards live?", maxTokens: 4) with { Model = "big:q8" };
            await CollectAsync(engine, request);
            var (text, _, completed) = await CollectAsync(engine, request);
            Assert.That(text, Is.Not.Empty);
            Assert.That(completed.CompletionTokens, Is.EqualTo(4));
            Assert.That(engine["big:q8"].LastCachedPromptTokens, Is.GreaterThan(0));
            Assert.That(engine["small"].LastCachedPromptTokens, Is.Zero);

            var unnamed = Request("What do lizards eat?", maxTokens: 3) with { Model = null };
            await CollectAsync(engine, unnamed);
            var (_, _, byDefault) = await CollectAsync(engine, unnamed);
            Assert.That(byDefault.CompletionTokens, Is.EqualTo(3));
            Assert.That(engine["small"].LastCachedPromptTokens, Is.GreaterThan(0), "a request naming no model goes to the first");

            var error = Assert.ThrowsAsync<InferenceFailedException>(
                () => CollectAsync(engine, Request(maxTokens: 3) with { Model = "huge" }));
            Assert.That(error!.Message, Is.EqualTo("This model host does not serve the model 'huge'; it serves small, big:q8."));
        }
        finally
        {
            await engine.StopAsync(CancellationToken.None);
        }

        Assert.That(await ProcessTable.WaitUntilGoneAsync("llama-server", TimeSpan.FromSeconds(30)), Is.Empty,
            "a model's llama-server outlived the engine");
    }

    [Test]
    public void AMissingModelFile_NamesItsSetting()
    {
        var values = TwoModels();
        values["Inference:Models:1:ModelPath"] = "/nonexistent/big.gguf";
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);

        var error = Assert.Throws<ConfigurationException>(
            () => builder.Services.AddInferenceEngine(builder.Configuration, builder.AddInfrastructureSettings()));

        Assert.That(error!.Message, Is.EqualTo("Inference:Models:1:ModelPath '/nonexistent/big.gguf' does not exist."));
    }

    [TestCase("Inference:Models:1:Name", "small", "Inference:Models:1:Name 'small' is listed twice.")]
    [TestCase("Inference:Models:1:Name", "big model", "Inference:Models:1:Name 'big model' is not a model name")]
    [TestCase("Inference:Models:1:Name", "", "Inference:Models:1:Name is empty: give the model's public name.")]
    [TestCase("Inference:Models:1:ModelPath", "", "Inference:Models:1:ModelPath is empty: give the GGUF file of 'big:q8'.")]
    [TestCase("Inference:Models:1:Parallel", "0", "Inference:Models:1:Parallel '0' must be a whole number from 1 to 64.")]
    [TestCase("Inference:Models:1:ContextSize", "64", "Inference:Models:1:ContextSize '64' must be a whole number from 256 to 1048576.")]
    [TestCase("Inference:MaxTokens", "600", "Inference:MaxTokens (600) must be smaller than Inference:Models:1:ContextSize (512).")]
    [TestCase("Inference:Models:1:Pooling", "max", "Inference:Models:1:Pooling 'max' must be one of none, mean, cls, last, rank.")]
    [TestCase("Inference:Models:1:Embeddings", "yes", "Inference:Models:1:Embeddings 'yes' must be true or false.")]
    [TestCase("Inference:Pooling", "sum", "Inference:Pooling 'sum' must be one of none, mean, cls, last, rank.")]
    public void BadModelSettings_NameTheKey(string key, string value, string expected)
    {
        var values = TwoModels();
        values[key] = value;

        var error = Assert.Throws<ConfigurationException>(() => LlamaCppOptions.Read(Settings(values)));

        Assert.That(error!.Message, Does.StartWith(expected));
    }

    [Test]
    public async Task AnEmbeddingModel_BesideAChatModel_SaysSo_AndMakesTheSameVectorOfTheSameText()
    {
        var values = TwoModels();
        values["Inference:Models:1:Embeddings"] = "true";
        values["Inference:Models:1:Pooling"] = "mean";
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddLogging();
        builder.Services.AddInferenceEngine(builder.Configuration, builder.AddInfrastructureSettings());
        await using var provider = builder.Services.BuildServiceProvider();
        var engine = (LlamaServerModels)provider.GetRequiredService<IInferenceEngine>();
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine["small"].WaitUntilReadyAsync(CancellationToken.None);
            await engine["big:q8"].WaitUntilReadyAsync(CancellationToken.None);

            var health = await engine.CheckHealthAsync(CancellationToken.None);
            var made = await engine.EmbedAsync(new EmbeddingRequest(Guid.NewGuid(), "big:q8", ["a lizard", "a lizard", "a stone"]),
                CancellationToken.None);

            Assert.That(health.Embeddings, Is.EqualTo(new[] { new EmbeddingModel("big:q8", 64) }), "the test model is 64 wide");
            Assert.That(made.Vectors.Select(v => v.Length), Is.All.EqualTo(64));
            Assert.That(made.Vectors[1], Is.EqualTo(made.Vectors[0]).Within(1e-5f));
            Assert.That(made.Vectors[2], Is.Not.EqualTo(made.Vectors[0]).Within(1e-4f));
            Assert.That(made.PromptTokens, Is.GreaterThan(0));
            var chatOnly = Assert.ThrowsAsync<InferenceFailedException>(() =>
                engine.EmbedAsync(new EmbeddingRequest(Guid.NewGuid(), "small", ["x"]), CancellationToken.None));
            Assert.That(chatOnly!.Message, Does.Contain("Inference:Embeddings"));
        }
        finally
        {
            await engine.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public void Models_TakeTheSectionsSettings_WhereTheyDoNotSetTheirOwn()
    {
        var options = LlamaCppOptions.Read(Settings(TwoModels()));

        Assert.That(options.Models, Is.EqualTo(new[]
        {
            new LlamaModel("small", ModelPath, 1, 1024, 0, "Inference:Models:0"),
            new LlamaModel("big:q8", ModelPath, 2, 512, 0, "Inference:Models:1"),
        }));
        var big = options.For(options.Models[1]);
        Assert.That((big.ModelPath, big.Parallel, big.ContextSize, big.MaxTokens, big.ExtraArgs.Single()),
            Is.EqualTo((ModelPath, 2, 512, 64, "--ignore-eos")));
    }

    [Test]
    public void SeveralModels_WithTheOneShotEngine_StopStartUpSayingWhy()
    {
        var values = TwoModels();
        values["Inference:Engine"] = "LlamaCli";
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);

        var error = Assert.Throws<ConfigurationException>(
            () => builder.Services.AddInferenceEngine(builder.Configuration, builder.AddInfrastructureSettings()));

        Assert.That(error!.Message, Does.StartWith("Inference:Models needs Inference:Engine=LlamaServer"));
    }
}
