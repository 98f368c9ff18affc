using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using EventBackbone.TestInfrastructure;
using Microsoft.Playwright;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>
/// Debian's chromium, driven by Playwright's own driver (the node binary shipped in the Microsoft.Playwright package).
/// Playwright's browser download cannot reach its servers from our machines, so the browser is the distribution's,
/// installed by <c>scripts/infra.sh up</c>, and named by <see cref="BrowserTypeLaunchOptions.ExecutablePath"/>.
/// </summary>
internal static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>
    /// Long enough for a server-rendered page behind three processes on two cores at load 10+; a wait is a
    /// precondition, never a measured speed, so it is generous rather than tight.
    /// </summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Launches a fresh headless browser (a new user-data-dir each time). A missing chromium fails the test, never skips
    /// it: CI must not go green on a machine where no browser ran.
    /// </summary>
    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InfrastructureUnavailableException(
                $"{ExecutablePath} is missing: the browser tests drive Debian's chromium package. {InfrastructureSettings.StartHint}");
        }

        // Expect assertions retry until this: their 5 s default failed a rendered page still waiting on its API calls.
        Assertions.SetDefaultExpectTimeout((float)Patience.TotalMilliseconds);
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                // --no-sandbox: CI runs as root, where chromium refuses its sandbox. The rest keeps the browser from
                // reaching for the network (component updates, sync, QUIC probes) on machines that have none.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
                Timeout = (float)Patience.TotalMilliseconds,
            });
            return (playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    private static readonly ConditionalWeakTable<IPage, ConcurrentQueue<string>> Refusals = new();

    /// <summary>
    /// A page whose every auto-wait and Expect assertion uses <see cref="Patience"/>, and which remembers what the
    /// browser refused to load (<see cref="RefusedBy"/>).
    /// </summary>
    public static async Task<IPage> NewPageAsync(IBrowserContext context)
    {
        context.SetDefaultTimeout((float)Patience.TotalMilliseconds);
        context.SetDefaultNavigationTimeout((float)Patience.TotalMilliseconds);
        var page = await context.NewPageAsync();
        var refused = Refusals.GetOrCreateValue(page);
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && message.Text.StartsWith("Refused to", StringComparison.Ordinal))
            {
                refused.Enqueue(message.Text);
            }
        };
        return page;
    }

    /// <summary>
    /// "Refused to execute script …", "Refused to apply style …": a resource the page names that the browser would not
    /// use (the CSP forbids it, or it came without its Content-Type under nosniff). The page still renders, so no
    /// locator notices: the embedded console was tested that way, without its stylesheet and script, unnoticed.
    /// </summary>
    public static IReadOnlyCollection<string> RefusedBy(IPage page) => Refusals.TryGetValue(page, out var refused)
        ? [.. refused]
        : throw new InvalidOperationException("This page was not opened by Chromium.NewPageAsync: nothing recorded what its browser refused.");
}
