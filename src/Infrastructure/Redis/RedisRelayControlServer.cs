using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Embeddings;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// In the process that runs the relay server (the server bot, or an embedded API on Redis): answers the calls of API
/// instances that do not (<see cref="RedisRelayControl"/>) with the local controls, so a cancel from any instance
/// runs under the request's gate here, exactly as a local one. The multiplexer subscribes again by itself after a
/// Redis outage.
/// </summary>
public sealed partial class RedisRelayControlServer(
    RedisConnection connection, IServiceScopeFactory scopes, RedisOutages outages, ILogger<RedisRelayControlServer> logger)
    : IHostedService
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly CancellationTokenSource _stopping = new();
    private string? _channel;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _channel = RedisRelayControl.ControlChannel(connection);
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            // Confirmed before the server bot counts as started: a call made then is answered.
            await connection.SubscribeAsync(subscriber, _channel, (_, message) => StartAnswer(message));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // The multiplexer keeps the handler and subscribes once Redis is reachable.
            outages.Record("relay control subscribe", "subscribed once Redis returns", ex);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_channel is null)
        {
            return;
        }

        try
        {
            await connection.UnsubscribeAsync(_channel);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("relay control unsubscribe", "dropped when the connection closes", ex);
        }
    }

    // Off the multiplexer's thread: a cancel waits for the request's gate and the database.
    private void StartAnswer(RedisValue message) => _ = Task.Run(() => AnswerAsync(message));

    private async Task AnswerAsync(RedisValue message)
    {
        RelayControlCall? call;
        try
        {
            call = JsonSerializer.Deserialize<RelayControlCall>((byte[])message!, s_json);
        }
        catch (JsonException)
        {
            return;
        }

        if (call is null)
        {
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var control = scope.ServiceProvider.GetRequiredService<LocalRelayControl>();
            var reply = call is { Operation: RelayControlCall.Embed, Embedding: { } asked }
                ? await EmbedAsync(call.Id, asked, scope.ServiceProvider)
                : call switch
            {
                { Operation: RelayControlCall.Cancel, SessionId: { } chatId } =>
                    new RelayControlReply(call.Id,
                        (await control.CancelUnfinishedAsync(new ChatId(chatId), _stopping.Token))?.Value, null, null),
                { Operation: RelayControlCall.Progress, RequestId: { } requestId } =>
                    await control.GetProgressAsync(new RelayRequestId(requestId), _stopping.Token) is { } progress
                        ? new RelayControlReply(call.Id, requestId, progress.Text, progress.LastSeq)
                        : new RelayControlReply(call.Id, requestId, null, null),
                _ => new RelayControlReply(call.Id, null, null, null),
            };
            var subscriber = await connection.GetSubscriberAsync();
            await connection.WithinTimeout(subscriber.PublishAsync(call.ReplyTo, JsonSerializer.SerializeToUtf8Bytes(reply, s_json)));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // The caller sees no reply and says so (503 for a cancel); nothing of the request is logged but its ids.
            LogCallFailed(logger, call.Operation, call.SessionId, call.RequestId, ex);
        }
    }

    /// <summary>
    /// An embed call, made by the relay server that claims it first (every one hears the call): the vectors, or the
    /// refusal as its status, message and parameter; an empty reply from the others.
    /// </summary>
    private async Task<RelayControlReply> EmbedAsync(Guid id, EmbeddingsAsked asked, IServiceProvider services)
    {
        var database = await connection.GetDatabaseAsync();
        if (!await connection.WithinTimeout(database.StringSetAsync($"{connection.KeyPrefix}relay:embed:{id:N}", 1,
                TimeSpan.FromMinutes(10), When.NotExists)))
        {
            return new RelayControlReply(id, null, null, null);
        }

        try
        {
            var made = await services.GetRequiredService<IEmbeddingRelay>().EmbedAsync(asked, _stopping.Token);
            return new RelayControlReply(id, null, null, null)
            {
                Vectors = [.. made.Vectors.Select(v => EmbeddingVectors.ToBase64(v))],
                PromptTokens = made.PromptTokens,
                Model = made.Model,
                WorkerId = made.WorkerId,
            };
        }
        catch (Exception ex) when (ex is DomainException or NotFoundException or ServiceUnavailableException)
        {
            var (status, param) = ex switch
            {
                DomainException domain => (400, domain.Field),
                NotFoundException notFound => (404, notFound.Field),
                _ => (503, null),
            };
            return new RelayControlReply(id, null, null, null) { ErrorStatus = status, Error = ex.Message, ErrorParam = param };
        }
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Could not answer a relay {Operation} call (session {SessionId}, request {RequestId})")]
    private static partial void LogCallFailed(ILogger logger, string operation, Guid? sessionId, Guid? requestId, Exception exception);
}
