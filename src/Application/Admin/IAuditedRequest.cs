namespace MeatLizard.Application.Admin;

/// <summary>
/// A request <see cref="AdminAuditBehaviour{TRequest,TResponse}"/> runs around: an <see cref="IAdminCommand"/> or an
/// <see cref="IOwnerOrAdminAction"/>. The behaviour is registered for these alone (a generic constraint), so the
/// container does not build it, nor the audit log it needs, for every other request.
/// </summary>
public interface IAuditedRequest;
