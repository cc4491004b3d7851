using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Messages;

/// <summary>What a follower of one request learns (<see cref="AnswerFollower"/>).</summary>
public abstract record AnswerUpdate;

/// <summary>New words of the answer, in order; <see cref="Seq"/> numbers them within the attempt.</summary>
public sealed record AnswerWords(string Text, int Seq) : AnswerUpdate;

/// <summary>Its host stopped mid-answer and another attempt writes the answer from the start: what came is void.</summary>
public sealed record AnswerStartedOver : AnswerUpdate;

/// <summary>Where the request stands (<see cref="AnswerStatuses"/>), with its place in the queue when queued.</summary>
public sealed record AnswerStatusChanged(string Status, int? QueuePosition) : AnswerUpdate;

/// <summary>How the request ended; the last update.</summary>
public abstract record AnswerEnd : AnswerUpdate;

/// <summary>Answered (by the model, the fallback or a notice: <see cref="MessageDto.Source"/> says which), as stored.</summary>
public sealed record AnswerGiven(MessageDto Answer) : AnswerEnd;

/// <summary>Cancelled before it produced anything.</summary>
public sealed record AnswerWithdrawn : AnswerEnd;

/// <summary>Not answered in the time a request may take; the answer will appear in the chat when ready.</summary>
public sealed record AnswerLate : AnswerEnd;
