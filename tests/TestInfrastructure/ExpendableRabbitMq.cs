using System.Diagnostics;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// The second RabbitMQ node that <c>scripts/infra.sh</c> runs only to be taken away (<c>faults</c>, AMQP 5673): the
/// fault-injection suite stops and starts its app under load while every other suite keeps the shared node. Stopping
/// needs the rights of the user that runs the servers (root in CI).
/// </summary>
public sealed class ExpendableRabbitMq
{
    public const string LockName = "rabbitmq-faults-node";

    private ExpendableRabbitMq(string node, InfrastructureSettings settings)
    {
        Node = node;
        Settings = settings;
    }

    public string Node { get; }

    /// <summary>The shared settings with RabbitMQ pointing at this node (PostgreSQL unchanged).</summary>
    public InfrastructureSettings Settings { get; }

    public static ExpendableRabbitMq FromEnvironment()
    {
        var shared = InfrastructureSettings.FromEnvironment();
        var node = Environment.GetEnvironmentVariable("Backbone__RabbitMq__FaultsNode") is { Length: > 0 } name
            ? name
            : $"faults@{System.Net.Dns.GetHostName().Split('.')[0]}";
        var port = Environment.GetEnvironmentVariable("Backbone__RabbitMq__FaultsPort") is { Length: > 0 } text
            ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture)
            : 5673;
        var management = Environment.GetEnvironmentVariable("Backbone__RabbitMq__FaultsManagementUrl") is { Length: > 0 } url
            ? new Uri(url)
            : new Uri("http://127.0.0.1:15673");
        return new ExpendableRabbitMq(node, shared with { RabbitPort = port, RabbitManagementUrl = management });
    }

    public static Task<ExclusiveInfrastructure> AcquireAsync() => ExclusiveInfrastructure.AcquireAsync(LockName, TimeSpan.FromMinutes(20));

    /// <summary>The broker application stops, the Erlang node stays: every connection drops, queues stay on disk.</summary>
    public Task StopAppAsync() => RabbitMqCtlAsync("stop_app");

    public async Task StartAppAsync()
    {
        await RabbitMqCtlAsync("start_app");
        await InfrastructureProbe.EnsureRabbitMqReachableAsync(Settings.RabbitHost, Settings.RabbitPort);
    }

    /// <summary>Starts the app if a previous run left it stopped; a node that is not running fails with the usual hint.</summary>
    public async Task EnsureRunningAsync()
    {
        try
        {
            await InfrastructureProbe.EnsureRabbitMqReachableAsync(Settings.RabbitHost, Settings.RabbitPort);
        }
        catch (InfrastructureUnavailableException)
        {
            await StartAppAsync();
        }
    }

    private async Task RabbitMqCtlAsync(string command)
    {
        var start = new ProcessStartInfo("rabbitmqctl") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-n", Node, "-q", command })
        {
            start.ArgumentList.Add(argument);
        }

        using (var process = InfrastructureProgram.Start(start, InfrastructureSettings.StartHint))
        {
            var errors = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                throw new InfrastructureUnavailableException(
                    $"rabbitmqctl -n {Node} {command} failed ({process.ExitCode}): {errors.Trim()} {InfrastructureSettings.StartHint}");
            }
        }
    }
}
