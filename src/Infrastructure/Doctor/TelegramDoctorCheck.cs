using System.Globalization;
using MeatLizard.Infrastructure.Telegram;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>Telegram (when <c>Telegram:BotToken</c> is set): the Bot API answers and takes the token (getMe).</summary>
public sealed class TelegramDoctorCheck(TelegramBotClient client, TelegramOptions options) : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var me = await client.GetMeAsync(cancellationToken);
            var chats = options.AllowedChatIds.Count.ToString(CultureInfo.InvariantCulture);
            return [DoctorResult.Pass("telegram", $"bot @{me.Username} (id {me.Id.ToString(CultureInfo.InvariantCulture)}), {chats} allowed chat(s)")];
        }
        catch (TelegramApiException ex) when (ex.ErrorCode is 401 or 404)
        {
            return [DoctorResult.Fail("telegram", $"the Bot API refused Telegram:BotToken ({ex.ErrorCode.ToString(CultureInfo.InvariantCulture)})",
                "set the token @BotFather gave the bot")];
        }
        catch (TelegramApiException ex)
        {
            var host = new Uri(options.ApiBaseUrl).Host;
            return [DoctorResult.Fail("telegram", $"{host}: {ex.Description}", "check Telegram:ApiBaseUrl and this machine's way out to it")];
        }
    }
}
