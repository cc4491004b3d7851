using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Discord.Tests.Fake;
// The fake Discord's route wrapper (authentication, body checks, rate limits) and the faults a test injects: 429s, outages, lost answers, failing downloads.
public sealed partial class FakeDiscordServer
{
    /// <summary>The next <paramref name="count"/> attachment downloads fail with 503 (the CDN having a bad moment).</summary>
    public void FailAttachmentDownloads(int count) => Interlocked.Exchange(ref _attachmentFailures, count);

    private int _attachmentFailures;

    /// <summary>Every attachment download fails with 503 for <paramref name="duration"/> (the CDN down for a while).</summary>
    public void FailAttachmentDownloadsFor(TimeSpan duration) => AttachmentOutageUntil = DateTimeOffset.UtcNow + duration;

    private DateTimeOffset AttachmentOutageUntil { get; set; } = DateTimeOffset.MinValue;

    /// <summary>Attachment downloads refused so far (by <see cref="FailAttachmentDownloads"/> or an outage).</summary>
    public int AttachmentRefusals => Volatile.Read(ref _attachmentRefusals);

    private int _attachmentRefusals;

    /// <summary>Attachment downloads still to fail (of those <see cref="FailAttachmentDownloads"/> asked for).</summary>
    public int PendingAttachmentFailures => Math.Max(0, Volatile.Read(ref _attachmentFailures));

    /// <summary>The next <paramref name="count"/> requests on the route template get a 429 with this retry_after.</summary>
    public void InjectRateLimits(string template, int count, TimeSpan retryAfter, bool global = false)
    {
        for (var i = 0; i < count; i++)
        {
            _faults.Enqueue(new Fault(template, 429, retryAfter, global, AfterProcessing: false));
        }
    }

    /// <summary>
    /// For <paramref name="duration"/> Discord's API has trouble: every REST request (the CDN's attachment downloads and
    /// the gateway are not affected) is answered at once with a 502 or 503, as Cloudflare does when the API behind it
    /// fails — or, with <paramref name="hang"/>, gets no answer at all until the outage ends (then a 504), so a client
    /// must time out by itself. Nothing a refused request asked for is carried out.
    /// </summary>
    public void StartRestOutage(TimeSpan duration, bool hang)
    {
        lock (_lock)
        {
            _outage = (DateTimeOffset.UtcNow + duration, hang);
        }
    }

    /// <summary>REST requests answered with an error by an outage so far.</summary>
    public int OutageRefusals => Volatile.Read(ref _outageRefusals);

    private (DateTimeOffset Until, bool Hang)? _outage;
    private int _outageRefusals;

    private async Task<(int Status, string Message)?> OutageAnswerAsync(CancellationToken aborted)
    {
        (DateTimeOffset Until, bool Hang)? outage;
        lock (_lock)
        {
            outage = _outage;
        }

        if (outage is not { } current || current.Until <= DateTimeOffset.UtcNow)
        {
            return null;
        }

        var refusal = Interlocked.Increment(ref _outageRefusals);
        if (current.Hang)
        {
            var left = current.Until - DateTimeOffset.UtcNow;
            await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero, aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return (504, "Gateway Timeout");
        }

        return refusal % 2 == 0 ? (502, "Bad Gateway") : (503, "Service Unavailable");
    }

    /// <summary>Injected faults no request has met yet.</summary>
    public int PendingFaults => _faults.Count;

    /// <summary>The next request on the route template is carried out but answered with a 502 (the answer "lost").</summary>
    public void InjectLostAnswer(string template) => _faults.Enqueue(new Fault(template, 502, TimeSpan.Zero, false, AfterProcessing: true));

    private void Route(RouteGroupBuilder api, string method, string template, Func<HttpContext, FakeBot, string?, Task<IResult>> handler)
    {
        api.MapMethods(template, [method], async (HttpContext ctx) =>
        {
            var auth = ctx.Request.Headers.Authorization.ToString();
            if (!auth.StartsWith("Bot ", StringComparison.Ordinal) || !_botsByToken.TryGetValue(auth[4..], out var bot))
            {
                _requests.Enqueue(new RecordedRequest(method, template, ctx.Request.Path, null, null, 401));
                return Error(401, 0, "401: Unauthorized");
            }

            string? body = null;
            if (ctx.Request.HasFormContentType)
            {
                var form = await ctx.Request.ReadFormAsync();
                body = form["payload_json"];
                if (form.Files.GetFile("files[0]") is { } file)
                {
                    using var stream = new MemoryStream();
                    await file.CopyToAsync(stream);
                    ctx.Items["file"] = (file.FileName, stream.ToArray());
                }
            }
            else if (ctx.Request.ContentLength > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
            {
                body = await new StreamReader(ctx.Request.Body, Encoding.UTF8).ReadToEndAsync();
            }

            if (body is not null)
            {
                foreach (var problem in _validator.Validate(method, template, body))
                {
                    _violations.Enqueue(problem);
                }
            }

            if (await OutageAnswerAsync(ctx.RequestAborted) is { } outage)
            {
                _requests.Enqueue(new RecordedRequest(method, template, ctx.Request.Path, bot.UserId, body, outage.Status));
                return Results.Json(new { message = outage.Message, code = 0 }, statusCode: outage.Status);
            }

            var major = MajorOf(template, ctx);
            var bucket = $"{method} {template}";
            var key = $"{bot.UserId}|{bucket}|{major}";
            var result = await LimitAsync(ctx, key, bucket, template, () => handler(ctx, bot, body));
            // The answer's status is the result's own (the response's is set only when the result is written).
            var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : ctx.Response.StatusCode;
            _requests.Enqueue(new RecordedRequest(method, template, ctx.Request.Path, bot.UserId, body, status));
            return result;
        });
    }

    private async Task<IResult> LimitAsync(HttpContext ctx, string key, string bucket, string template, Func<Task<IResult>> handler)
    {
        var interaction = template.StartsWith("/interactions", StringComparison.Ordinal);
        var window = _windows.GetOrAdd(key, _ => new Window());
        var bucketHash = Convert.ToHexString(System.Security.Cryptography.SHA1.HashData(Encoding.UTF8.GetBytes(bucket)))[..16].ToLowerInvariant();
        int remaining;
        double resetAfter;
        bool exhausted;
        lock (window)
        {
            var now = DateTimeOffset.UtcNow;
            if (now >= window.ResetAt)
            {
                window.Used = 0;
                window.ResetAt = now + RateWindow;
            }

            exhausted = window.Used >= RateLimit && !interaction;
            if (!exhausted)
            {
                window.Used++;
            }

            remaining = Math.Max(0, RateLimit - window.Used);
            resetAfter = Math.Max(0.001, (window.ResetAt - now).TotalSeconds);
        }

        var headers = ctx.Response.Headers;
        headers["X-RateLimit-Limit"] = RateLimit.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Reset-After"] = resetAfter.ToString("0.000", CultureInfo.InvariantCulture);
        headers["X-RateLimit-Reset"] = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 + resetAfter).ToString("0.000", CultureInfo.InvariantCulture);
        headers["X-RateLimit-Bucket"] = bucketHash;

        if (TakeFault(template, before: true) is { } fault)
        {
            headers["Retry-After"] = Math.Ceiling(fault.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Scope"] = fault.Global ? "global" : "user";
            if (fault.Global)
            {
                headers["X-RateLimit-Global"] = "true";
            }

            return Results.Json(new { message = "You are being rate limited.", retry_after = fault.RetryAfter.TotalSeconds, global = fault.Global },
                statusCode: 429);
        }

        if (exhausted)
        {
            Interlocked.Increment(ref _naturalRateLimits);
            headers["Retry-After"] = Math.Ceiling(resetAfter).ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Scope"] = "user";
            return Results.Json(new { message = "You are being rate limited.", retry_after = resetAfter, global = false }, statusCode: 429);
        }

        var inFlight = _inFlight.AddOrUpdate(key, 1, (_, n) => n + 1);
        try
        {
            if (remaining == 0)
            {
                lock (_lock)
                {
                    _maxInFlightPerBucket = Math.Max(_maxInFlightPerBucket, inFlight);
                }
            }

            var result = await handler();
            if (TakeFault(template, before: false) is { } lost)
            {
                return Results.Json(new { message = "Bad Gateway", code = 0 }, statusCode: lost.Status);
            }

            return result;
        }
        finally
        {
            _inFlight.AddOrUpdate(key, 0, (_, n) => n - 1);
        }
    }

    private Fault? TakeFault(string template, bool before)
    {
        lock (_faults)
        {
            var all = _faults.ToList();
            var index = all.FindIndex(f => f.Template == template && f.AfterProcessing != before);
            if (index < 0)
            {
                return null;
            }

            var fault = all[index];
            _faults.Clear();
            foreach (var f in all.Where((_, i) => i != index))
            {
                _faults.Enqueue(f);
            }

            return fault;
        }
    }

    private static string MajorOf(string template, HttpContext ctx)
    {
        foreach (var name in new[] { "channel_id", "guild_id", "webhook_id", "interaction_id" })
        {
            if (template.Contains($"{{{name}}}", StringComparison.Ordinal))
            {
                return (string)ctx.Request.RouteValues[name]!;
            }
        }

        return "";
    }

    private sealed record Fault(string Template, int Status, TimeSpan RetryAfter, bool Global, bool AfterProcessing);

    private sealed class Window
    {
        public int Used;
        public DateTimeOffset ResetAt = DateTimeOffset.MinValue;
    }
}
