using EventBackbone.Contracts.Code;
using EventBackbone.Contracts.Payments;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Commands;

/// <summary>
/// The <c>Backbone:Ingestion:Commands</c> section: <c>MaxBodyBytes</c> (default 64 KiB) and <c>Publishable:0</c>,
/// <c>Publishable:1</c>… — the full names of the contracts that <c>PublishEvent</c> may put on the bus (default
/// <see cref="PaymentReceived"/> and <see cref="CodePushed"/>). Anything else is refused: an internal caller must not be
/// able to forge, say, <c>EmailVerified</c> through the generic command.
/// </summary>
public sealed record CommandSettings(int MaxBodyBytes, IReadOnlyDictionary<string, Type> Publishable)
{
    private const string Section = "Backbone:Ingestion:Commands";

    public static CommandSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var names = configuration.GetSection($"{Section}:Publishable").GetChildren()
            .Select((child, index) => (Key: $"{Section}:Publishable:{index}", Name: child.Value?.Trim()))
            .Where(x => !string.IsNullOrEmpty(x.Name))
            .ToList();
        var publishable = names.Count == 0
            ? new[] { typeof(PaymentReceived), typeof(CodePushed) }.ToDictionary(type => type.FullName!, StringComparer.Ordinal)
            : names.ToDictionary(
                x => x.Name!,
                x => typeof(PaymentReceived).Assembly.GetType(x.Name!, throwOnError: false)
                    ?? throw new InvalidSettingException(x.Key, $"'{x.Name}' is not a contract in EventBackbone.Contracts."),
                StringComparer.Ordinal);
        return new CommandSettings(settings.Int($"{Section}:MaxBodyBytes", 64 * 1024, 1, 1024 * 1024), publishable);
    }
}
