using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Workers.Tests;

/// <summary>Every module named in <see cref="WorkerModule"/> has its line of consumers, and only its own.</summary>
public sealed class WorkerModuleConsumerSpecs
{
    public static TheoryData<WorkerModule> Modules() =>
        [.. Enum.GetValues<WorkerModule>().Where(x => x is not WorkerModule.None and not WorkerModule.All)];

    [Theory]
    [MemberData(nameof(Modules))]
    public void A_module_deployed_alone_registers_consumers_of_its_own(WorkerModule module)
    {
        var alone = ConsumerNames(module);
        var others = ConsumerNames(WorkerModule.All & ~module);

        Assert.NotEmpty(alone);
        Assert.Empty(alone.Intersect(others));
    }

    private static List<string> ConsumerNames(WorkerModule enabled)
    {
        var services = new ServiceCollection().AddSingleton(new EnabledWorkerModules(enabled));
        services.AddMassTransitTestHarness(WorkersComposition.ConfigureBus);
        return [.. services.Where(x => x.ServiceType.Name.EndsWith("Consumer", StringComparison.Ordinal)).Select(x => x.ServiceType.Name)];
    }
}
