namespace EventBackbone.TestInfrastructure;

/// <summary>
/// The real RabbitMQ or PostgreSQL a test needs is not there. Tests fail with this, never skip: CI must not go green
/// on a machine where nothing was tested.
/// </summary>
public sealed class InfrastructureUnavailableException : Exception
{
    public InfrastructureUnavailableException()
    {
    }

    public InfrastructureUnavailableException(string message)
        : base(message)
    {
    }

    public InfrastructureUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
