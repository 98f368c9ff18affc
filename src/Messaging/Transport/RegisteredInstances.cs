using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Messaging.Transport;

public static class RegisteredInstances
{
    /// <summary>
    /// The instances of <typeparamref name="T"/> a module registered (settings, registrations), read while the bus is
    /// configured, before any service provider exists. Only non-keyed descriptors of that type are read: asking a keyed
    /// descriptor for its instance throws.
    /// </summary>
    public static IEnumerable<T> InstancesOf<T>(this IServiceCollection services) =>
        services.Where(x => x.ServiceType == typeof(T) && !x.IsKeyedService).Select(x => x.ImplementationInstance).OfType<T>();
}
