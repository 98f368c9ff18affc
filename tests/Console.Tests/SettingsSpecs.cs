using EventBackbone.ServiceDefaults;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Builder;

namespace EventBackbone.Console.Tests;

/// <summary>A console that could not reach the APIs, or could sign nobody in, refuses to start and says which setting is missing.</summary>
public sealed class SettingsSpecs
{
    [Fact]
    public void Without_a_front_door_the_console_refuses_to_start_naming_the_setting()
    {
        var builder = Builder("Production", ("Backbone:Auth:Authority", "https://login.example.org/"), ("Backbone:Console:ClientId", "console"));

        var refused = Assert.Throws<InvalidSettingException>(() => builder.AddConsole());

        Assert.Equal("Backbone:Console:FrontDoor", refused.Setting);
        Assert.Contains("front door", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_host_exits_with_the_configuration_error_code_when_the_front_door_is_missing()
    {
        var exitCode = await BackboneHost.RunAsync(
            ["--environment", "Production", "--Backbone:Auth:Authority", "https://login.example.org/", "--Backbone:Console:ClientId", "console"],
            builder =>
            {
                builder.AddServiceDefaults();
                builder.AddConsole();
            },
            app => app.MapConsole());

        Assert.Equal(BackboneHost.InvalidSettingExitCode, exitCode);
    }

    [Fact]
    public void Outside_development_and_embedded_mode_the_console_needs_an_identity_provider()
    {
        var builder = Builder("Production", ("Backbone:Console:FrontDoor", "http://front-door:5080"));

        var refused = Assert.Throws<InvalidSettingException>(() => builder.AddConsole());

        Assert.Equal("Backbone:Auth:Authority", refused.Setting);
    }

    [Fact]
    public void In_embedded_mode_the_front_door_is_the_host_itself()
    {
        var builder = Builder("Production", ("Urls", "http://0.0.0.0:5080"));

        builder.AddConsole(ConsoleHosting.Embedded);

        using var app = builder.Build();
        var settings = (ConsoleSettings)app.Services.GetService(typeof(ConsoleSettings))!;
        Assert.Equal(new Uri("http://127.0.0.1:5080"), settings.FrontDoor);
        Assert.Equal(DevSignIn.PasteOrMint, settings.DevSignIn);
    }

    private static WebApplicationBuilder Builder(string environment, params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        foreach (var (key, value) in settings)
        {
            builder.Configuration[key] = value;
        }

        return builder;
    }
}
