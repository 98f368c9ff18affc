using EventBackbone.ServiceDefaults.Settings;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Workers.Tests;

public sealed class WorkerModulesSpecs
{
    [Fact]
    public void Without_configuration_every_module_runs()
    {
        Assert.Equal(WorkerModule.All, EnabledWorkerModules.Load(Configuration()).Enabled);
    }

    [Fact]
    public void A_deployment_of_one_module_registers_only_that_modules_consumers()
    {
        var modules = EnabledWorkerModules.Load(Configuration(("Backbone:Workers:Modules:0", "Users")));
        var services = new ServiceCollection().AddSingleton(modules);

        services.AddMassTransitTestHarness(WorkersComposition.ConfigureBus);

        var consumers = services.Where(x => x.ServiceType.Name.EndsWith("Consumer", StringComparison.Ordinal)).Select(x => x.ServiceType.Name).ToList();
        Assert.Equal(["CreateUserAccountConsumer"], consumers);
    }

    [Fact]
    public void An_unknown_module_is_an_invalid_setting_naming_the_key()
    {
        var invalid = Assert.Throws<InvalidSettingException>(() => EnabledWorkerModules.Load(Configuration(("Backbone:Workers:Modules:0", "Billing"))));

        Assert.Contains("Backbone:Workers:Modules:0", invalid.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(x => new KeyValuePair<string, string?>(x.Key, x.Value))).Build();
}
