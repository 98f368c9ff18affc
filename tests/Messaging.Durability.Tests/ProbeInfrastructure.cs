using EventBackbone.TestInfrastructure;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>A vhost and one scratch "Probe" service database per test class.</summary>
public sealed class ProbeInfrastructure() : BackboneInfrastructure("Probe");
