using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Builder;

namespace EventBackbone.ServiceDefaults;

public static class BackboneHost
{
    /// <summary>Exit code for a configuration error (sysexits.h EX_CONFIG).</summary>
    public const int InvalidSettingExitCode = 78;

    /// <summary>
    /// Builds and runs a host. A bad setting, found while building or starting, becomes one line on stderr
    /// naming the setting and exit code 78: an operator sees what to fix, not a stack trace.
    /// </summary>
    public static async Task<int> RunAsync(
        string[] args,
        Action<WebApplicationBuilder> configureServices,
        Action<WebApplication> configurePipeline)
    {
        try
        {
            // Found anywhere, so a launcher that puts its own options first (--urls …) still reaches the command.
            var command = Array.IndexOf(args, DevTokens.Command);
            if (command >= 0)
            {
                var tokenArgs = args[(command + 1)..];
                // Reads the same configuration as the host, so the token fits the key the host will check against.
                var configuration = WebApplication.CreateBuilder([]).Configuration;
                return DevTokens.Run(tokenArgs, BackboneAuthSettings.Load(configuration, EmbeddedMode.IsOn(configuration)), Console.Out, Console.Error);
            }

            var builder = WebApplication.CreateBuilder(args);
            configureServices(builder);
            var app = builder.Build();
            configurePipeline(app);
            await app.RunAsync();
            return 0;
        }
        catch (InvalidSettingException invalid)
        {
            await Console.Error.WriteLineAsync(invalid.Message);
            return InvalidSettingExitCode;
        }
    }
}
