using EventBackbone.Console.Api;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

namespace EventBackbone.Console.Components;

/// <summary>What every console page uses: the APIs as the operator, the operator's permissions, the request.</summary>
public abstract class ConsolePage : ComponentBase
{
    [CascadingParameter]
    public HttpContext HttpContext { get; set; } = null!;

    [Inject]
    internal BackboneApi Api { get; set; } = null!;

    [Inject]
    internal OperatorPermissions PermissionsService { get; set; } = null!;

    [Inject]
    internal NavigationManager Navigation { get; set; } = null!;

    internal Capabilities Can { get; private set; } = new(false, false, false, false, false, false);

    protected CancellationToken Aborted => HttpContext.RequestAborted;

    protected async Task LoadPermissionsAsync() => Can = (await PermissionsService.GetAsync(Aborted)).Can;
}
