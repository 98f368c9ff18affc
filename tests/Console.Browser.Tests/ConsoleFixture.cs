using System.Text;
using EventBackbone.TestInfrastructure;
using Microsoft.Playwright;
using RabbitMQ.Client;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>
/// The real hosts as processes on a vhost and databases of their own: Workers, Sagas and DeadLetters behind the front
/// door (Ingestion.Api), and the console (src/Console) in Development — so its paste-a-token sign-in is on — calling
/// the APIs through that front door. One Debian chromium for the whole collection; each spec gets its own browser
/// context (its own cookies: its own sign-in) and seeds failures on queues named for it alone.
/// </summary>
public sealed class ConsoleFixture() : BackboneInfrastructure("Ingestion", "Workers", "Sagas", "DeadLetters")
{
    public const string AllDeadLetterScopes = "dead-letters:read dead-letters:replay dead-letters:edit dead-letters:delete";
    public static readonly string SigningKey = TestSigningKey.Generate();

    private readonly List<HostProcess> _hosts = [];
    private IPlaywright _playwright = null!;

    public HostProcess FrontDoor { get; private set; } = null!;

    public HostProcess DeadLetters { get; private set; } = null!;

    public HostProcess Console { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>"operator": every dead-letters scope, plus the look-ups'.</summary>
    public string OperatorToken { get; private set; } = "";

    /// <summary>"auditor": dead-letters:read only.</summary>
    public string ReadOnlyToken { get; private set; } = "";

    internal DeadLetterSeeder Seeder { get; private set; } = null!;

    public string AllLogs() => string.Join('\n', _hosts.Select(x => x.Logs));

    public override async Task InitializeAsync()
    {
        // The browser first: a machine without chromium fails here, before minutes of host start-up.
        (_playwright, Browser) = await Chromium.LaunchAsync();
        await base.InitializeAsync();
        var settings = new Dictionary<string, string>(HostSettings())
        {
            ["Backbone:Auth:SigningKeys:0"] = SigningKey,
            ["Backbone:RabbitMq:ManagementUrl"] = Settings.RabbitManagementUrl.ToString(),
            // Error queues the specs declare are found within a second, not the default interval.
            ["Backbone:DeadLetters:DiscoveryInterval"] = "00:00:00.500",
            // Edit-and-replay is off by default (a power granted deliberately); the console's edit screen is tested on.
            ["Backbone:DeadLetters:EditAndReplay"] = "true",
        };
        var workers = Track(HostProcess.Start("Workers", settings));
        var sagas = Track(HostProcess.Start("Sagas", settings));
        DeadLetters = Track(HostProcess.Start("DeadLetters", settings));
        await Task.WhenAll(_hosts.Select(host => host.WaitUntilReadyAsync(HostProcess.StartTimeout)));
        settings["Backbone:Gateway:Workers"] = workers.BaseAddress.ToString();
        settings["Backbone:Gateway:Sagas"] = sagas.BaseAddress.ToString();
        settings["Backbone:Gateway:DeadLetters"] = DeadLetters.BaseAddress.ToString();
        FrontDoor = Track(HostProcess.Start("Ingestion.Api", settings));
        var console = new Dictionary<string, string>(settings)
        {
            ["Backbone:Console:FrontDoor"] = FrontDoor.BaseAddress.ToString(),
            // Development turns on the paste-a-token sign-in (never mapped elsewhere).
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
        };
        Console = Track(HostProcess.Start("Console", console));
        await Task.WhenAll(FrontDoor.WaitUntilReadyAsync(HostProcess.StartTimeout), Console.WaitUntilReadyAsync(HostProcess.StartTimeout));

        var tokens = await Task.WhenAll(
            MintedTokens.MintAsync(SigningKey, "operator", $"{AllDeadLetterScopes} reports:read signups:read commands:signup"),
            MintedTokens.MintAsync(SigningKey, "auditor", "dead-letters:read"));
        (OperatorToken, ReadOnlyToken) = (tokens[0], tokens[1]);
        Seeder = new DeadLetterSeeder(await BrokerAsync(), Database("DeadLetters"), AllLogs);
    }

    public async Task<IConnection> BrokerAsync() =>
        await new ConnectionFactory
        {
            HostName = Settings.RabbitHost,
            Port = Settings.RabbitPort,
            VirtualHost = VirtualHost.Name,
            UserName = Settings.RabbitUsername,
            Password = Settings.RabbitPassword,
        }.CreateConnectionAsync();

    /// <summary>A fresh browser context signed in to the console with <paramref name="token"/> through the dev sign-in form.</summary>
    public Task<(IBrowserContext Context, IPage Page)> SignInAsync(string token) => SignInAsync(Browser, Console.BaseAddress, token);

    internal static async Task<(IBrowserContext Context, IPage Page)> SignInAsync(IBrowser browser, Uri console, string token)
    {
        var (context, page) = await NewSessionAsync(browser, console);
        await page.GotoAsync("/sign-in/dev");
        await page.GetByLabel("Bearer token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with this token" }).ClickAsync();
        await Assertions.Expect(page).Not.ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/sign-in"));
        return (context, page);
    }

    /// <summary>A fresh browser context (its own cookies), not signed in, on the console at <paramref name="console"/>.</summary>
    internal static async Task<(IBrowserContext Context, IPage Page)> NewSessionAsync(IBrowser browser, Uri console)
    {
        var context = await browser.NewContextAsync(new() { BaseURL = console.ToString(), ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await Chromium.NewPageAsync(context);
        // "Delete these messages for good?" and the like: the operator confirms (Playwright would dismiss by default).
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        return (context, page);
    }

    /// <summary>An API client of the browser's (Playwright APIRequest) that calls the front door as <paramref name="token"/>.</summary>
    public Task<IAPIRequestContext> FrontDoorAsAsync(string token) =>
        _playwright.APIRequest.NewContextAsync(new()
        {
            BaseURL = FrontDoor.BaseAddress.ToString(),
            ExtraHTTPHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {token}" },
            Timeout = (float)Chromium.Patience.TotalMilliseconds,
        });

    public override async Task DisposeAsync()
    {
        if (Seeder is not null)
        {
            await Seeder.DisposeAsync();
        }

        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await base.DisposeAsync();
    }

    private HostProcess Track(HostProcess host)
    {
        _hosts.Add(host);
        return host;
    }
}

[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<ConsoleFixture>
{
    public const string Name = "console";
}
