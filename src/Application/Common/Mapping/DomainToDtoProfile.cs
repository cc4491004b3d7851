using AutoMapper;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Common.Mapping;

/// <summary>Domain → DTO. Enums go out lower-case, as the API documents them.</summary>
public sealed class DomainToDtoProfile : Profile
{
    public DomainToDtoProfile()
    {
        CreateMap<Message, MessageDto>()
            .ForCtorParam(nameof(MessageDto.Id), o => o.MapFrom(m => m.Id.Value))
            .ForCtorParam(nameof(MessageDto.SessionId), o => o.MapFrom(m => m.SessionId.Value))
            .ForCtorParam(nameof(MessageDto.Role), o => o.MapFrom(m => Lower(m.Role)))
            .ForCtorParam(nameof(MessageDto.Source), o => o.MapFrom(m => Lower(m.Source)))
            .ForCtorParam(nameof(MessageDto.Tokens), o => o.MapFrom(m => m.Tokens == null
                ? null
                : new TokensDto(m.Tokens.Prompt, m.Tokens.Completion, m.Tokens.Total)))
            .ForCtorParam(nameof(MessageDto.RequestId), o => o.MapFrom(m => m.RequestId == null
                ? (Guid?)null
                : m.RequestId.Value.Value))
            .ForCtorParam(nameof(MessageDto.FinishReason), o => o.MapFrom(m => m.Finish == null
                ? null
                : Lower(m.Finish.Value)));

        CreateMap<ChatSession, SessionDto>()
            .ForCtorParam(nameof(SessionDto.Id), o => o.MapFrom(s => s.Id.Value))
            .ForCtorParam(nameof(SessionDto.Title), o => o.MapFrom(s => s.Title.Value))
            .ForCtorParam(nameof(SessionDto.Status), o => o.MapFrom(s => Lower(s.Status)))
            .ForCtorParam(nameof(SessionDto.Model), o => o.MapFrom(s => s.Model == null ? null : s.Model.Value))
            .ForCtorParam(nameof(SessionDto.SystemPrompt),
                o => o.MapFrom(s => s.SystemPrompt == null ? null : s.SystemPrompt.Value))
            .ForCtorParam(nameof(SessionDto.Temperature), o => o.MapFrom(s => s.Sampling.Temperature))
            .ForCtorParam(nameof(SessionDto.TopP), o => o.MapFrom(s => s.Sampling.TopP))
            .ForCtorParam(nameof(SessionDto.MaxTokens), o => o.MapFrom(s => s.Sampling.MaxTokens));

        CreateMap<ApiKey, ApiKeyDto>()
            .ForCtorParam(nameof(ApiKeyDto.Id), o => o.MapFrom(k => k.Id.Value));

        CreateMap<User, UserDto>()
            .ForCtorParam(nameof(UserDto.Id), o => o.MapFrom(u => u.Id.Value))
            .ForCtorParam(nameof(UserDto.Username), o => o.MapFrom(u => u.Username.Value))
            .ForCtorParam(nameof(UserDto.Role), o => o.MapFrom(u => Lower(u.Role)));
    }

    public static string Lower<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}
