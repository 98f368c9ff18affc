using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Workers;

[Flags]
public enum WorkerModule
{
    None = 0,

    /// <summary>Stores accepted webhooks (<c>inbound_webhooks</c>).</summary>
    Webhooks = 1,

    /// <summary>CreateUserAccount → user accounts.</summary>
    Users = 2,

    /// <summary>SendNotification → the external provider.</summary>
    Notifications = 4,

    /// <summary>Read models: signup funnel, webhook volume; <c>/api/v1/reports</c>.</summary>
    Reporting = 8,

    /// <summary>Webhooks → domain events (CodePushed, PaymentReceived).</summary>
    Integrations = 16,

    All = Webhooks | Users | Notifications | Reporting | Integrations,
}

/// <summary>
/// <c>Backbone:Workers:Modules:0</c>, <c>…:1</c>… — which modules this Workers instance runs (default: all). One host
/// with all of them is the simple deployment; a deployment per module, each with its own <c>ConnectionStrings:Workers</c>
/// database, gives every module a database of its own and lets each scale alone. Modules never read each other's
/// tables, so the split is configuration, not code.
/// </summary>
public sealed record EnabledWorkerModules(WorkerModule Enabled)
{
    public bool Has(WorkerModule module) => (Enabled & module) == module;

    public static EnabledWorkerModules Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var entries = configuration.GetSection("Backbone:Workers:Modules").GetChildren().ToList();
        return entries.Count == 0
            ? new EnabledWorkerModules(WorkerModule.All)
            : new EnabledWorkerModules(entries
                .Select((_, index) => settings.Enum<WorkerModule>($"Backbone:Workers:Modules:{index}"))
                .Aggregate(WorkerModule.None, (all, module) => all | module));
    }
}
