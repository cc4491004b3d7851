
namespace MeatLizard.Application.Common.Behaviours;

/// <summary>Requests that wait on purpose (e.g. for an answer) and so are not slow when they take long.</summary>
public interface ILongRunningRequest;
