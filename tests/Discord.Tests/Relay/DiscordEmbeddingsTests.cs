using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Embeddings.Commands;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// Embeddings over the loopback Discord: the server bot seals each part of a batch as an <c>embed</c> envelope on the
/// control channel to the client bot whose model makes them, which answers with <c>vectors</c> there; the vectors come
/// back in the inputs' order, and Discord sees only ciphertext.
/// </summary>
public sealed class DiscordEmbeddingsTests : TwoBotsTest
{
    [Test]
    public async Task ABatch_TravelsSealedOverTheControlChannel_AndComesBackInOrder()
    {
        Bots.PerBot[Bots.ClientBot] = new() { ["Inference:ModelName"] = "embedder" };
        Bots.Engine.EmbeddingModels = [new EmbeddingModel("embedder", Width: 8)];
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await Bots.WaitForWorkersAsync(1);
        await Bots.StartChatAsync();
        var inputs = Enumerable.Range(0, 70).Select(i => $"secret text {i}").ToList();

        EmbeddingsMade? made = null;
        var until = DateTime.UtcNow.AddSeconds(20);
        while (made is null)
        {
            try
            {
                made = await Bots.SendAsync(new CreateEmbeddings(inputs, "embedder"));
            }
            catch (Domain.Common.DomainException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(200); // the host's heartbeat saying it makes embeddings is on its way
            }
        }

        Assert.That(made.Vectors, Has.Count.EqualTo(70));
        for (var i = 0; i < inputs.Count; i++)
        {
            Assert.That(made.Vectors[i], Is.EqualTo(ScriptedEngine.VectorOf(inputs[i], 8)), $"vector {i}");
        }

        Assert.That(Bots.Engine.EmbeddingRequests, Has.Count.EqualTo(2), "70 inputs in two parts of at most 64");
        var all = Bots.Fake.AllMessages();
        Assert.That(all.Where(m => m.Content.Length > 0).Select(m => m.Content), Has.None.Contains("secret text"),
            "Discord sees only sealed envelopes");
    }
}
