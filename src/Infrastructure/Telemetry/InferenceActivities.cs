using System.Diagnostics;
using MeatLizard.Application.Common;

namespace MeatLizard.Infrastructure.Telemetry;

/// <summary>The inference adapters' activities: each call to llama-server (or another OpenAI-style server).</summary>
internal static class InferenceActivities
{
    public static readonly ActivitySource Source = new(MessageTracing.SourcePrefix + "Inference");
}
