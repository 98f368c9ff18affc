using System.ComponentModel.DataAnnotations;
using EventBackbone.Messaging.Policies;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Messaging.Tests;

public sealed record PolicyProbe(Guid Id, string Failure);

public sealed class PolicyProbeConsumer(PolicyProbeAttempts attempts) : IConsumer<PolicyProbe>
{
    public Task Consume(ConsumeContext<PolicyProbe> context)
    {
        attempts.Record(context.Message.Id);
        if (context.Message.Failure == "database-restarting")
        {
            // Unreachable for the first five attempts — more than the quick retries' four — then back.
            return attempts.Of(context.Message.Id) <= 5
                ? throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused)
                : Task.CompletedTask;
        }

        throw context.Message.Failure switch
        {
            "validation" => new ValidationException("email is required"),
            "format" => new FormatException("not a date"),
            _ => new InvalidOperationException("the database connection was reset"),
        };
    }
}

public sealed class PolicyProbeConsumerDefinition : ConsumerDefinition<PolicyProbeConsumer>
{
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<PolicyProbeConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        // No later redeliveries here (the harness has no durable scheduler); the immediate retries are what is tested.
        // The database-outage pauses are shortened from about a minute; their count is what is tested.
        endpointConfigurator.UseBackboneFailurePolicy(
            redeliveries: [], databaseOutageRetries: [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(50), FailurePolicy.DatabaseOutageRetries.Count)]);
}

public sealed class PolicyProbeAttempts
{
    private readonly Dictionary<Guid, int> _attempts = [];

    public void Record(Guid id)
    {
        lock (_attempts)
        {
            _attempts[id] = _attempts.GetValueOrDefault(id) + 1;
        }
    }

    public int Of(Guid id)
    {
        lock (_attempts)
        {
            return _attempts.GetValueOrDefault(id);
        }
    }
}

[Trait("Tier", "Fast")]
public sealed class FailurePolicySpecs : IAsyncLifetime
{
    private readonly ServiceProvider _provider = new ServiceCollection()
        .AddSingleton<PolicyProbeAttempts>()
        .AddMassTransitTestHarness(bus => bus.AddConsumer<PolicyProbeConsumer, PolicyProbeConsumerDefinition>())
        .BuildServiceProvider(validateScopes: true);

    private ITestHarness Harness => _provider.GetRequiredService<ITestHarness>();

    public Task InitializeAsync() => Harness.Start();

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    [Theory]
    [InlineData("validation")]
    [InlineData("format")]
    public async Task A_non_transient_fault_skips_the_retries_and_faults_at_once(string failure)
    {
        var probe = new PolicyProbe(NewId.NextGuid(), failure);

        await Harness.Bus.Publish(probe);

        Assert.True(await Harness.Published.Any<Fault<PolicyProbe>>(x => x.Context.Message.Message.Id == probe.Id));
        Assert.Equal(1, _provider.GetRequiredService<PolicyProbeAttempts>().Of(probe.Id));
    }

    [Fact]
    public async Task A_transient_fault_is_retried_three_times_before_it_faults()
    {
        var probe = new PolicyProbe(NewId.NextGuid(), "transient");

        await Harness.Bus.Publish(probe);

        Assert.True(await Harness.Published.Any<Fault<PolicyProbe>>(x => x.Context.Message.Message.Id == probe.Id));
        Assert.Equal(4, _provider.GetRequiredService<PolicyProbeAttempts>().Of(probe.Id));
    }

    [Fact]
    public async Task A_database_that_is_restarting_is_waited_for_instead_of_dead_lettering_the_message()
    {
        var probe = new PolicyProbe(NewId.NextGuid(), "database-restarting");

        await Harness.Bus.Publish(probe);

        Assert.True(await Harness.Consumed.Any<PolicyProbe>(x => x.Context.Message.Id == probe.Id && x.Exception is null));
        Assert.DoesNotContain(Harness.Published.Select<Fault<PolicyProbe>>(), x => x.Context.Message.Message.Id == probe.Id);
        Assert.Equal(6, _provider.GetRequiredService<PolicyProbeAttempts>().Of(probe.Id));
    }
}
