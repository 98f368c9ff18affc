using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Sagas.Tests;

/// <summary>
/// The signup state machine in MassTransit's test harness, one harness per test. Its specs are split by topic into
/// classes, which xunit runs in parallel: most of their time is waiting out timeouts, not CPU.
/// </summary>
public abstract class SignupHarness : IAsyncLifetime
{
    /// <summary>Short, so the timeout specs run in seconds; long enough that nothing else races it.</summary>
    protected static readonly TimeSpan VerificationTimeout = TimeSpan.FromSeconds(2);

    private readonly ServiceProvider _provider = new ServiceCollection()
        .AddSingleton(new SignupSettings(VerificationTimeout))
        .AddMassTransitTestHarness(bus =>
        {
            bus.AddSagaStateMachine<SignupStateMachine, SignupState>().InMemoryRepository();
            bus.AddDelayedMessageScheduler();
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.UseDelayedMessageScheduler();
                cfg.ConfigureEndpoints(context);
            });
        })
        // The harness's default 1.2 s of "inactivity" before an awaited message counts as absent was too short on a
        // loaded 2-core machine (a SignupExpired published 2 s late was reported missing).
        .Configure<TestHarnessOptions>(options => options.TestInactivityTimeout = TimeSpan.FromSeconds(3))
        .BuildServiceProvider(validateScopes: true);

    protected ITestHarness Harness => _provider.GetRequiredService<ITestHarness>();

    protected ISagaStateMachineTestHarness<SignupStateMachine, SignupState> Saga =>
        Harness.GetSagaStateMachineHarness<SignupStateMachine, SignupState>();

    protected SignupStateMachine Machine => Saga.StateMachine;

    public Task InitializeAsync() => Harness.Start();

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    protected async Task<Guid> RequestAsync(string email)
    {
        var signupId = NewId.NextGuid();
        await Harness.Bus.Publish(new SignupRequested(signupId, email, null, DateTimeOffset.UtcNow));
        Assert.NotNull(await Saga.Exists(signupId, x => x.CreatingAccount));
        return signupId;
    }

    protected async Task<Guid> AccountCreatedAsync(string email)
    {
        var signupId = await RequestAsync(email);
        await Harness.Bus.Publish(new UserAccountCreated(signupId, NewId.NextGuid(), email, DateTimeOffset.UtcNow));
        Assert.NotNull(await Saga.Exists(signupId, x => x.AwaitingVerification));
        return signupId;
    }
}
