using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Admin;

/// <summary>
/// Runs around every <see cref="IAdminCommand"/>, and every <see cref="IOwnerOrAdminAction"/> an admin makes (other
/// requests pass straight through): refuses non-admins before
/// anything else, and appends one audit row per call — succeeded, refused (not an admin, or a rule of the platform),
/// invalid (validation) or failed (anything else, recorded by exception type only). Registered outside validation,
/// so invalid arguments are audited too. The row is written even when the command's own work was rolled back.
/// </summary>
/// <remarks>
/// A call stopped by its rate limit writes no row (nothing was done). A non-admin's attempts take tokens of their own <see cref="RateLimitScope.Admin"/> bucket (keyed by the actor) before
/// their row is written: once it is empty they get a 429 and no row, so a signed-in member's script cannot fill the audit
/// log. The limiter is looked up only for a refusal, so hosts with no admin callers need none.
/// </remarks>
public sealed class AdminAuditBehaviour<TRequest, TResponse>(IAuditLog audit, IClock clock, IServiceProvider services)
    : IPipelineBehavior<TRequest, TResponse>
    where TRequest : IAuditedRequest
{
    private const int MaxDetail = 500;

    public async Task<TResponse> Handle(
        TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        var command = request switch
        {
            IAdminCommand admin => new Audited(admin.Actor, admin.AuditName, admin.AuditArguments),
            IOwnerOrAdminAction { Admin: { } actor } action => new Audited(actor, action.AuditName, action.AuditArguments),
            _ => null,
        };
        if (command is null)
        {
            return await next();
        }

        if (!command.Actor.IsAdmin)
        {
            if (services.GetService<IRateLimiter>() is { } limiter
                && await limiter.TryAcquireAsync(RateLimitScope.Admin, command.Actor.Id, cancellationToken) is { Allowed: false } full)
            {
                throw new RateLimitedException(full.RetryAfter, nameof(RateLimitScope.Admin).ToLowerInvariant());
            }

            await AppendAsync(command, AuditOutcome.Refused, AdminOnlyException.Message);
            throw new AdminOnlyException();
        }

        TResponse response;
        try
        {
            response = await next();
        }
        catch (RateLimitedException)
        {
            // Nothing was done, and an admin's script past its bucket must not grow the log by a row per 429 either.
            throw;
        }
        catch (ValidationException ex)
        {
            await AppendAsync(command, AuditOutcome.Invalid, string.Join(" ", ex.Errors.Select(e => e.ErrorMessage)));
            throw;
        }
        catch (Exception ex) when (ex is DomainException or NotFoundException or ConflictException)
        {
            await AppendAsync(command, AuditOutcome.Refused, ex.Message);
            throw;
        }
        catch (Exception ex)
        {
            await AppendAsync(command, AuditOutcome.Failed, ex.GetType().Name);
            throw;
        }

        await AppendAsync(command, AuditOutcome.Succeeded, null);
        return response;
    }

    // Not the caller's token: a command cancelled half-way must still leave its row. The arguments are what an admin
    // typed, unvalidated: cleaned, so a control character cannot keep the row from being stored.
    private Task AppendAsync(Audited command, AuditOutcome outcome, string? detail) =>
        audit.AppendAsync(new AuditEntry(clock.UtcNow, command.Actor.ToString(), command.AuditName,
            Cleaned(command.AuditArguments), outcome,
            Cleaned(detail is { Length: > MaxDetail } ? detail[..MaxDetail] : detail)),
            CancellationToken.None);

    private static string? Cleaned(string? text) => text is null ? null : StorableText.Clean(text);

    /// <summary>Who acted, and what the audit log names and shows of the action.</summary>
    private sealed record Audited(AdminActor Actor, string AuditName, string? AuditArguments);
}
