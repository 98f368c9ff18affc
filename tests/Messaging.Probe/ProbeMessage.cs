namespace EventBackbone.Messaging.Probe;

/// <summary>The message the durability tests count: its id is derived from its sequence number.</summary>
public record ProbeMessage(Guid Id, int Sequence);
