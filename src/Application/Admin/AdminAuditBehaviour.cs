using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin;

/// <summary>
/// Runs around every <see cref="IAdminCommand"/> (other requests pass straight through): refuses non-admins before
/// anything else, and appends one audit row per call — succeeded, refused (not an admin, or a rule of the platform),
/// invalid (validation) or failed (anything else, recorded by exception type only). Registered outside validation,
/// so invalid arguments are audited too. The row is written even when the command's own work was rolled back.
/// </summary>
public sealed class AdminAuditBehaviour<TRequest, TResponse>(IAuditLog audit, IClock clock)
    : IPipelineBehavior<TRequest, TResponse>
{
    private const int MaxDetail = 500;

    public async Task<TResponse> Handle(
        TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        if (request is not IAdminCommand command)
        {
            return await next();
        }

        if (!command.Actor.IsAdmin)
        {
            await AppendAsync(command, AuditOutcome.Refused, AdminOnlyException.Message);
            throw new AdminOnlyException();
        }

        TResponse response;
        try
        {
            response = await next();
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
    private Task AppendAsync(IAdminCommand command, AuditOutcome outcome, string? detail) =>
        audit.AppendAsync(new AuditEntry(clock.UtcNow, command.Actor.ToString(), command.AuditName,
            Cleaned(command.AuditArguments), outcome,
            Cleaned(detail is { Length: > MaxDetail } ? detail[..MaxDetail] : detail)),
            CancellationToken.None);

    private static string? Cleaned(string? text) => text is null ? null : StorableText.Clean(text);
}
