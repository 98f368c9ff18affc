namespace EventBackbone.Messaging.Persistence;

/// <summary>Which DbContext a host registered as its service database, and whether it is PostgreSQL or in-memory.</summary>
public sealed record ServiceDatabaseRegistration(Type ContextType, string Service, bool IsPostgres);
