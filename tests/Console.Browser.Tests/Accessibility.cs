using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>
/// axe-core (Deque) on the page as the user sees it now: no violation of impact serious or critical — and, first, the
/// page as the user sees it at all: the browser refused none of its resources (its stylesheet and script).
/// </summary>
internal static class Accessibility
{
    private static readonly string[] Blocking = ["serious", "critical"];

    public static async Task AssertNoSeriousViolationsAsync(IPage page, string screen)
    {
        var result = await page.RunAxe();
        // After axe's round trip to the page, so a refusal reported while the page loaded has arrived.
        var refused = Chromium.RefusedBy(page);
        Assert.True(refused.Count == 0, $"{screen} ({page.Url}): the browser refused {refused.Count} of the page's resources:\n{string.Join('\n', refused)}");
        var blocking = result.Violations.Where(x => Blocking.Contains(x.Impact)).ToList();
        Assert.True(blocking.Count == 0,
            $"{screen} ({page.Url}) has {blocking.Count} serious or critical accessibility violations:\n"
            + string.Join('\n', blocking.Select(Describe)));
    }

    private static string Describe(AxeResultItem violation) =>
        $"- {violation.Impact} {violation.Id}: {violation.Help} ({violation.HelpUrl})\n"
        + string.Join('\n', violation.Nodes.Take(5).Select(node => $"    {node.Html}"));
}
