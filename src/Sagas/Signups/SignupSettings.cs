using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Sagas.Signups;

/// <summary>
/// <c>Backbone:Signups:VerificationTimeout</c> (default 24 h): how long a signup waits for its email verification
/// before one reminder is sent, and again before it expires.
/// </summary>
public sealed record SignupSettings(TimeSpan VerificationTimeout)
{
    public static SignupSettings Load(IConfiguration configuration) => new(
        new SettingsReader(configuration).Duration(
            "Backbone:Signups:VerificationTimeout", TimeSpan.FromHours(24), TimeSpan.FromSeconds(1), TimeSpan.FromDays(30)));
}
