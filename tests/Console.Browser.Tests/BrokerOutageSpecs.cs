using System.Text.RegularExpressions;
using EventBackbone.TestInfrastructure;
using Microsoft.Playwright;
using RabbitMQ.Client;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>
/// DeadLetters, the front door and the console on the expendable RabbitMQ node (<see cref="ExpendableRabbitMq"/>),
/// which this class stops and starts; the shared node is never touched. Holds the node's machine-wide lock for its
/// whole life, as the fault-injection suite does, so the two never take it from under each other.
/// </summary>
public sealed class BrokerOutageFixture : IAsyncLifetime
{
    private readonly List<HostProcess> _hosts = [];
    private readonly List<ScratchDatabase> _databases = [];
    private ExclusiveInfrastructure? _brokerTurn;
    private RabbitMqVirtualHost? _virtualHost;
    private IPlaywright? _playwright;

    public ExpendableRabbitMq Broker { get; } = ExpendableRabbitMq.FromEnvironment();

    public IBrowser Browser { get; private set; } = null!;

    public HostProcess Console { get; private set; } = null!;

    public ScratchDatabase DeadLetters { get; private set; } = null!;

    public string OperatorToken { get; private set; } = "";

    internal DeadLetterSeeder Seeder { get; private set; } = null!;

    public string AllLogs() => string.Join('\n', _hosts.Select(x => x.Logs));

    public async Task InitializeAsync()
    {
        (_playwright, Browser) = await Chromium.LaunchAsync();
        _brokerTurn = await ExpendableRabbitMq.AcquireAsync();
        await Broker.EnsureRunningAsync();
        _virtualHost = await RabbitMqVirtualHost.CreateAsync(Broker.Settings);
        var ingestion = await Track(ScratchDatabase.CreateAsync(Broker.Settings, "browser_outage_ingestion"));
        DeadLetters = await Track(ScratchDatabase.CreateAsync(Broker.Settings, "browser_outage_deadletters"));
        var signingKey = TestSigningKey.Generate();
        var settings = new Dictionary<string, string>
        {
            ["Backbone:Transport"] = "RabbitMq",
            ["Backbone:RabbitMq:Host"] = Broker.Settings.RabbitHost,
            ["Backbone:RabbitMq:Port"] = Broker.Settings.RabbitPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Backbone:RabbitMq:VirtualHost"] = _virtualHost.Name,
            ["Backbone:RabbitMq:Username"] = Broker.Settings.RabbitUsername,
            ["Backbone:RabbitMq:Password"] = Broker.Settings.RabbitPassword,
            ["Backbone:RabbitMq:ManagementUrl"] = Broker.Settings.RabbitManagementUrl.ToString(),
            ["ConnectionStrings:Ingestion"] = ingestion.ConnectionString,
            ["ConnectionStrings:DeadLetters"] = DeadLetters.ConnectionString,
            ["Backbone:Auth:SigningKeys:0"] = signingKey,
            ["Backbone:DeadLetters:DiscoveryInterval"] = "00:00:00.500",
        };
        var deadLetters = Track(HostProcess.Start("DeadLetters", settings));
        await deadLetters.WaitUntilReadyAsync(HostProcess.StartTimeout);
        settings["Backbone:Gateway:DeadLetters"] = deadLetters.BaseAddress.ToString();
        var frontDoor = Track(HostProcess.Start("Ingestion.Api", settings));
        Console = Track(HostProcess.Start("Console", new Dictionary<string, string>(settings)
        {
            ["Backbone:Console:FrontDoor"] = frontDoor.BaseAddress.ToString(),
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
        }));
        await Task.WhenAll(frontDoor.WaitUntilReadyAsync(HostProcess.StartTimeout), Console.WaitUntilReadyAsync(HostProcess.StartTimeout));
        OperatorToken = await MintedTokens.MintAsync(signingKey, "operator", ConsoleFixture.AllDeadLetterScopes);
        var broker = await new ConnectionFactory
        {
            HostName = Broker.Settings.RabbitHost,
            Port = Broker.Settings.RabbitPort,
            VirtualHost = _virtualHost.Name,
            UserName = Broker.Settings.RabbitUsername,
            Password = Broker.Settings.RabbitPassword,
            AutomaticRecoveryEnabled = true,
        }.CreateConnectionAsync();
        Seeder = new DeadLetterSeeder(broker, DeadLetters, AllLogs);
    }

    public async Task DisposeAsync()
    {
        try
        {
            // Whatever a failed spec left behind: the node runs again for the next suite.
            await Broker.EnsureRunningAsync();
        }
        finally
        {
            if (Seeder is not null)
            {
                await Seeder.DisposeAsync();
            }

            foreach (var host in _hosts)
            {
                await host.DisposeAsync();
            }

            foreach (var database in _databases)
            {
                await database.DisposeAsync();
            }

            if (_virtualHost is not null)
            {
                await _virtualHost.DisposeAsync();
            }

            _brokerTurn?.Dispose();
            if (Browser is not null)
            {
                await Browser.DisposeAsync();
            }

            _playwright?.Dispose();
        }
    }

    private HostProcess Track(HostProcess host)
    {
        _hosts.Add(host);
        return host;
    }

    private async Task<ScratchDatabase> Track(Task<ScratchDatabase> creating)
    {
        var database = await creating;
        _databases.Add(database);
        return database;
    }
}

public sealed class BrokerOutageSpecs(BrokerOutageFixture outage) : IClassFixture<BrokerOutageFixture>
{
    [Fact]
    public async Task With_the_broker_stopped_the_replay_job_fails_and_resume_completes_it()
    {
        var queue = DeadLetterSeeder.UniqueQueue("outage");
        var failure = new Failure("System.TimeoutException", "The warehouse did not answer");
        var ids = await outage.Seeder.SeedAsync(queue, failure, failure, failure);
        var (context, page) = await ConsoleFixture.SignInAsync(outage.Browser, outage.Console.BaseAddress, outage.OperatorToken);
        await using var _ = context;
        await page.GotoAsync($"/groups?status=dead&queue={queue}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Replay this group" }).ClickAsync();
        await Expect(page.Locator("#dry-run-count")).ToHaveTextAsync("3 messages would be replayed.");
        await page.GetByLabel(new Regex("^Reason")).FillAsync("Warehouse back after the outage");

        await outage.Broker.StopAppAsync();
        try
        {
            await page.GetByRole(AriaRole.Button, new() { Name = "Start the replay" }).ClickAsync();
            await Expect(page).ToHaveURLAsync(new Regex("/replays/[0-9a-fA-F-]{36}"));
            // The job page polls: it shows the job failed while the broker is away, with nothing replayed.
            await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Status failed");
            // Stopped at its first message, or failed before it began: either way nothing went out.
            await Expect(page.Locator("[data-job-field=replayed]")).ToHaveTextAsync("0");
            await Expect(page.Locator("main")).ToContainTextAsync("the broker could not be reached");
            await Accessibility.AssertNoSeriousViolationsAsync(page, "failed replay job");
            // Nothing claimed and left behind: each message can still go out once the broker is back.
            Assert.Equal(0, await outage.DeadLetters.ScalarAsync<long>(
                "SELECT count(*) FROM replay_ledger WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())));
        }
        finally
        {
            await outage.Broker.StartAppAsync();
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Resume" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Status completed, 100 % done.");
        // The seeder's own connection was closed by the stop too; its automatic recovery retries every 5 s, so a resumed
        // job can finish before it is back (CI: AlreadyClosedException from the depth count below).
        await Eventually.HoldsAsync(() => Task.FromResult(outage.Seeder.Broker.IsOpen), Chromium.Patience,
            () => "The spec's own broker connection did not recover after the node restarted.");
        await Eventually.HoldsAsync(async () => await outage.Seeder.DepthAsync(queue) == 3, Chromium.Patience,
            () => $"The resumed job did not replay each of the three messages once.\n{outage.AllLogs()}");
        Assert.Equal(3, await outage.DeadLetters.ScalarAsync<long>(
            "SELECT count(*) FROM replay_ledger WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())));
    }
}
