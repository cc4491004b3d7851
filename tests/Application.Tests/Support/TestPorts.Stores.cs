using System.Globalization;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Moq;

namespace MeatLizard.Application.Tests.Support;

/// <summary>The stores and the event stream of <see cref="TestPorts"/>: in memory, each write journalled.</summary>
public sealed partial class TestPorts
{
    /// <summary>Messages kept in a list.</summary>
    private void SetUpMessageStore()
    {
        Messages.Setup(m => m.AddAsync(It.IsAny<Message>(), It.IsAny<CancellationToken>()))
            .Callback((Message message, CancellationToken _) =>
            {
                _messages.Add(message);
                _journal.Add($"add message:{message.Source}{(InTransaction ? " (tx)" : "")}");
            })
            .Returns(Task.CompletedTask);
        Messages.Setup(m => m.GetAsync(It.IsAny<MessageId>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((MessageId id, CancellationToken _) => _messages.SingleOrDefault(m => m.Id == id));
    }

    /// <summary>Relay requests kept by id, with the status the store holds, and its conditional writes.</summary>
    private void SetUpRequestStore()
    {
        Requests.Setup(r => r.AddAsync(It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()))
            .Callback((RelayRequest request, CancellationToken _) =>
            {
                _requests.Add(request.Id, request);
                _storedStatus[request.Id] = request.Status;
                _journal.Add($"add request:{request.Status}{(InTransaction ? " (tx)" : "")}");
            })
            .Returns(Task.CompletedTask);
        Requests.Setup(r => r.UpdateAsync(It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()))
            .Callback((RelayRequest request, CancellationToken _) =>
            {
                _storedStatus[request.Id] = request.Status;
                _journal.Add($"update request:{request.Status}{(InTransaction ? " (tx)" : "")}");
            })
            .Returns(Task.CompletedTask);
        Requests.Setup(r => r.TryUpdateAsync(It.IsAny<RelayRequest>(), It.IsAny<RelayRequestStatus>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((RelayRequest request, RelayRequestStatus expected, CancellationToken _) =>
                TryUpdate(request, expected));
        Requests.Setup(r => r.TryUpdateWithAnswerAsync(It.IsAny<RelayRequest>(), It.IsAny<RelayRequestStatus>(),
                It.IsAny<Message>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((RelayRequest request, RelayRequestStatus expected, Message answer, CancellationToken _) =>
            {
                if (!TryUpdate(request, expected, $" with answer:{answer.Source}"))
                {
                    return false;
                }

                _messages.Add(answer);
                return true;
            });
        Requests.Setup(r => r.TryUpdateManyAsync(It.IsAny<IReadOnlyCollection<RelayRequest>>(),
                It.IsAny<RelayRequestStatus>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((IReadOnlyCollection<RelayRequest> requests, RelayRequestStatus expected, CancellationToken _) =>
                (IReadOnlySet<RelayRequestId>)requests.Where(r => TryUpdate(r, expected)).Select(r => r.Id).ToHashSet());
        Requests.Setup(r => r.GetAsync(It.IsAny<RelayRequestId>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((RelayRequestId id, CancellationToken _) => _requests.GetValueOrDefault(id));
        Requests.Setup(r => r.ListPendingAsync(It.IsAny<int>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((int max, CancellationToken _) =>
                _requests.Values.Where(r => r.Status == RelayRequestStatus.Pending).Take(max).ToList());
        Requests.Setup(r => r.ClaimPendingAsync(It.IsAny<int>(), It.IsAny<int>(), It.IsAny<DateTimeOffset>(),
                It.IsAny<DateTimeOffset>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((int max, int historyMessages, DateTimeOffset _, DateTimeOffset _, string _, CancellationToken _) =>
                Claim(max, historyMessages));
        Requests.Setup(r => r.CountInFlightByHostAsync(It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => _requests.Values.Where(r => r.IsInFlight && r.WorkerId is not null)
                .GroupBy(r => (r.WorkerId!.Value, r.RoutedModel))
                .Select(g => new InFlightCount(g.Key.Value, g.Key.RoutedModel, g.Count())).ToList());
        Requests.Setup(r => r.ReleaseClaimsAsync(It.IsAny<IReadOnlyCollection<RelayRequestId>>(), It.IsAny<CancellationToken>()))
            .Callback((IReadOnlyCollection<RelayRequestId> ids, CancellationToken _) => _journal.Add($"release {ids.Count}"))
            .Returns(Task.CompletedTask);
        Requests.Setup(r => r.ListClaimsHeldAsync(It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync([]);
        Requests.Setup(r => r.ListInFlightAsync(It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => _requests.Values.Where(r => r.IsInFlight).ToList());
        Requests.Setup(r => r.GetUnfinishedForSessionAsync(It.IsAny<ChatId>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ChatId id, CancellationToken _) =>
                _requests.Values.LastOrDefault(r => r.ChatId == id && !r.IsFinished));

        // The store's conditional queueing: only while the chat is at the version the caller read, active, and not
        // being answered; a queue bumps the version, as any write of the chat does.
        Requests.Setup(r => r.TryQueueAsync(It.IsAny<Chat>(), It.IsAny<string>(), It.IsAny<Message>(),
                It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((Chat chat, string version, Message message, RelayRequest request,
                CancellationToken _) =>
            {
                if (!_sessions.TryGetValue(chat.Id, out var stored) || stored.IsClosed
                    || SessionVersion(chat.Id) != version
                    || _requests.Values.Any(r => r.ChatId == chat.Id && !r.IsFinished))
                {
                    _journal.Add("queue refused");
                    return null;
                }

                _messages.Add(message);
                _requests.Add(request.Id, request);
                _storedStatus[request.Id] = request.Status;
                _journal.Add($"queue message:{message.Source} request:{request.Status}");
                return ChangedElsewhere(chat.Id);
            });
    }

    /// <summary>Chats kept with their versions.</summary>
    private void SetUpSessionStore()
    {
        // A new chat is stored with its version, which the next question in it is queued against.
        Sessions.Setup(s => s.StartAsync(It.IsAny<Chat>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((Chat chat, CancellationToken _) =>
            {
                _journal.Add($"start session{(InTransaction ? " (tx)" : "")}");
                Remember(chat);
                return SessionVersion(chat.Id);
            });
        Sessions.Setup(s => s.UpdateAsync(It.IsAny<Chat>(), It.IsAny<CancellationToken>()))
            .Callback(() => _journal.Add($"update session{(InTransaction ? " (tx)" : "")}"))
            .Returns(Task.CompletedTask);
    }

    /// <summary>Published chat events kept, each publish as one unit.</summary>
    private void SetUpEvents()
    {
        Events.Setup(e => e.PublishAsync(It.IsAny<ChatEvent>(), It.IsAny<CancellationToken>()))
            .Callback((ChatEvent chatEvent, CancellationToken _) =>
            {
                _published.Add(chatEvent);
                _publishedUnits.Add([chatEvent]);
            })
            .Returns(ValueTask.CompletedTask);
        Events.Setup(e => e.PublishAsync(It.IsAny<IReadOnlyList<ChatEvent>>(), It.IsAny<CancellationToken>()))
            .Callback((IReadOnlyList<ChatEvent> chatEvents, CancellationToken _) =>
            {
                _published.AddRange(chatEvents);
                _publishedUnits.Add([.. chatEvents]);
            })
            .Returns(ValueTask.CompletedTask);
    }
}
