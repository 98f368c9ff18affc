using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using EventBackbone.Contracts.Webhooks;
using MassTransit;
using MassTransit.Serialization;

namespace EventBackbone.Ingestion.Api.AsyncApi;

/// <summary>
/// The AsyncAPI 3.0 document of the bus: every contract in EventBackbone.Contracts with its JSON Schema, its exchange,
/// the MassTransit envelope a publisher wraps it in, and which host publishes, sends and receives what
/// (<see cref="BusTopology"/>). Built from the records themselves, so docs/asyncapi.json cannot drift from them unnoticed
/// (AsyncApiDocumentSpecs).
/// </summary>
internal static class AsyncApiDocument
{
    public const string ContentType = "application/vnd.masstransit+json";
    private const string EnvelopeSchema = "MassTransitEnvelope";
    private const string AmqpBindingVersion = "0.3.0";

    private static readonly JsonSerializerOptions Output = new()
    {
        WriteIndented = true,
        // Keeps '<', '>' and '+' readable in descriptions and content types; the document is JSON, never HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The contracts: every public record of EventBackbone.Contracts, ordered by wire identity.</summary>
    public static IReadOnlyList<Type> Contracts { get; } = typeof(WebhookReceived).Assembly.GetExportedTypes()
        .Where(type => type is { IsClass: true, IsAbstract: false } && type.Namespace?.StartsWith("EventBackbone.Contracts", StringComparison.Ordinal) == true)
        .OrderBy(WireIdentity, StringComparer.Ordinal)
        .ToList();

    /// <summary>What MassTransit puts in an envelope's messageType and matches consumers by: urn:message:Namespace:TypeName.</summary>
    public static string WireIdentity(Type contract) => MessageUrn.ForTypeString(contract);

    /// <summary>MassTransit's publish exchange for a contract: a fanout exchange named Namespace:TypeName.</summary>
    public static string ExchangeOf(Type contract) => WireIdentity(contract)["urn:message:".Length..];

    /// <summary>The document as the edge serves it and docs/asyncapi.json holds it (indented, LF, final newline).</summary>
    public static string ToJson() => Build().ToJsonString(Output).ReplaceLineEndings("\n") + "\n";

    internal static JsonObject Build()
    {
        var undescribed = Contracts.Where(contract =>
            !BusTopology.Publishes.Any(x => x.Contract == contract) && !BusTopology.Sends.Any(x => x.Contract == contract)).ToList();
        if (undescribed.Count > 0)
        {
            throw new InvalidOperationException(
                $"No host publishes or sends {string.Join(", ", undescribed.Select(x => x.FullName))} in AsyncApi/BusTopology.cs: "
                + "add who puts it on the bus and which queue receives it, as the code does.");
        }

        var schemaOptions = SchemaOptions();
        var schemas = new JsonObject { [EnvelopeSchema] = Envelope() };
        var messages = new JsonObject();
        var channels = new JsonObject();
        foreach (var contract in Contracts)
        {
            var schema = JsonSchemaExporter.GetJsonSchemaAsNode(schemaOptions, contract, new JsonSchemaExporterOptions
            {
                TreatNullObliviousAsNonNullable = true,
                TransformSchemaNode = (context, node) => Concrete(contract, context.TypeInfo.Type, node),
            }).AsObject();
            schema.Insert(0, "title", contract.Name);
            schemas[contract.Name] = schema;
            messages[contract.Name] = Message(contract);
            channels[contract.Name] = new JsonObject
            {
                ["address"] = ExchangeOf(contract),
                ["title"] = $"{contract.Name} exchange",
                ["description"] = $"MassTransit's publish exchange for {WireIdentity(contract)}: publish {contract.Name} here; "
                    + "every receive endpoint that consumes it binds its own exchange to this one.",
                ["messages"] = new JsonObject { [contract.Name] = Ref($"#/components/messages/{contract.Name}") },
                ["bindings"] = new JsonObject
                {
                    ["amqp"] = new JsonObject
                    {
                        ["is"] = "routingKey",
                        ["exchange"] = new JsonObject { ["name"] = ExchangeOf(contract), ["type"] = "fanout", ["durable"] = true, ["autoDelete"] = false },
                        ["bindingVersion"] = AmqpBindingVersion,
                    },
                },
            };
        }

        foreach (var queue in Queues())
        {
            channels[queue.Name] = new JsonObject
            {
                ["address"] = queue.Name,
                ["title"] = $"{queue.Name} receive endpoint",
                ["description"] = $"A receive endpoint of {queue.Host}: the queue {queue.Name} and the fanout exchange of the same name, bound to it "
                    + "and to the exchanges of the contracts it consumes. A command is sent to this exchange, not published.",
                ["messages"] = new JsonObject(queue.Contracts.Select(x => KeyValuePair.Create(x.Name, (JsonNode?)Ref($"#/components/messages/{x.Name}")))),
                ["bindings"] = new JsonObject
                {
                    ["amqp"] = new JsonObject
                    {
                        ["is"] = "queue",
                        ["queue"] = new JsonObject { ["name"] = queue.Name, ["durable"] = true, ["exclusive"] = false, ["autoDelete"] = false },
                        ["bindingVersion"] = AmqpBindingVersion,
                    },
                },
            };
        }

        return new JsonObject
        {
            ["asyncapi"] = "3.0.0",
            ["info"] = new JsonObject
            {
                ["title"] = "EventBackbone bus",
                ["version"] = ContractsVersion(),
                ["description"] = "The contracts EventBackbone's hosts exchange over RabbitMQ with MassTransit 8. A contract's wire identity is "
                    + "urn:message:<Namespace>:<TypeName>; it is published to a fanout exchange named <Namespace>:<TypeName>, as a JSON "
                    + $"MassTransit envelope ({ContentType}) whose messageType lists that URN and whose message is the contract. "
                    + "Generated from src/Contracts; the same document is served at GET /asyncapi.json.",
            },
            ["defaultContentType"] = ContentType,
            ["servers"] = new JsonObject
            {
                ["rabbitmq"] = new JsonObject
                {
                    ["host"] = "localhost:5672",
                    ["protocol"] = "amqp",
                    ["protocolVersion"] = "0.9.1",
                    ["description"] = "The broker the hosts are configured with (Backbone:RabbitMq:Host, Port, VirtualHost); localhost:5672 is scripts/infra.sh's.",
                },
            },
            ["channels"] = channels,
            ["operations"] = Operations(),
            ["components"] = new JsonObject { ["schemas"] = schemas, ["messages"] = messages },
        };
    }

    private static JsonSerializerOptions SchemaOptions()
    {
        // MassTransit's own serializer options (camelCase names), plus the records' nullability and required constructor
        // parameters, which the exporter reads only when the options respect them.
        var options = new JsonSerializerOptions(SystemTextJsonMessageSerializer.Options)
        {
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        options.MakeReadOnly();
        return options;
    }

    /// <summary>
    /// MassTransit's options carry a converter for string-keyed dictionaries, which the exporter can only describe as
    /// "anything" (<c>true</c>); the wire form is a JSON object of strings. Any other schema-less member is refused, so a
    /// contract member no publisher could know the shape of does not reach the document as "anything".
    /// </summary>
    private static JsonNode Concrete(Type contract, Type type, JsonNode node)
    {
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.True)
        {
            return node;
        }

        if (type.IsAssignableTo(typeof(IReadOnlyDictionary<string, string>)))
        {
            return new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = "string" } };
        }

        throw new InvalidOperationException($"{contract.FullName} has a member of type {type} that has no JSON Schema; give it a concrete type.");
    }

    private static JsonObject Message(Type contract) => new()
    {
        ["name"] = contract.Name,
        ["title"] = contract.Name,
        ["summary"] = $"{WireIdentity(contract)} in a MassTransit envelope.",
        ["contentType"] = ContentType,
        ["payload"] = new JsonObject
        {
            ["allOf"] = new JsonArray(
                Ref($"#/components/schemas/{EnvelopeSchema}"),
                new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject
                    {
                        ["messageType"] = new JsonObject { ["contains"] = new JsonObject { ["const"] = WireIdentity(contract) } },
                        ["message"] = Ref($"#/components/schemas/{contract.Name}"),
                    },
                }),
        },
        ["bindings"] = new JsonObject
        {
            ["amqp"] = new JsonObject { ["messageType"] = WireIdentity(contract), ["bindingVersion"] = AmqpBindingVersion },
        },
    };

    /// <summary>
    /// MassTransit's JSON envelope (application/vnd.masstransit+json), as its System.Text.Json serializer reads it.
    /// </summary>
    private static JsonObject Envelope()
    {
        static JsonObject Uuid(string description) => new() { ["type"] = "string", ["format"] = "uuid", ["description"] = description };
        static JsonObject Address(string description) => new() { ["type"] = "string", ["format"] = "uri", ["description"] = description };
        return new JsonObject
        {
            ["title"] = "MassTransit envelope",
            ["type"] = "object",
            ["description"] = "What a publisher puts in the AMQP body, with the AMQP properties content_type " + ContentType
                + ", message_id = messageId and delivery_mode 2 (persistent).",
            ["required"] = new JsonArray("messageId", "messageType", "message"),
            ["properties"] = new JsonObject
            {
                ["messageId"] = Uuid("Unique per message. Required: every consumer's inbox records it and consumes a message with the same id "
                    + "only once, so a resend after a lost confirm is safe; an envelope without one is refused by the inbox."),
                ["conversationId"] = Uuid("Groups the messages of one conversation; MassTransit carries it to what consumers publish."),
                ["correlationId"] = Uuid("Optional correlation id."),
                ["initiatorId"] = Uuid("Optional id of the message that caused this one."),
                ["sourceAddress"] = Address("Optional address of the sender, e.g. rabbitmq://host/vhost/my-service."),
                ["destinationAddress"] = Address("Optional address it was sent to, e.g. rabbitmq://host/vhost/<exchange>."),
                ["messageType"] = new JsonObject
                {
                    ["type"] = "array",
                    ["minItems"] = 1,
                    ["items"] = new JsonObject { ["type"] = "string", ["pattern"] = "^urn:message:" },
                    ["description"] = "The wire identities the message can be consumed as; MassTransit delivers it to a consumer only when "
                        + "the consumer's contract URN is in this list (otherwise it moves it to the queue's _skipped queue).",
                },
                ["message"] = new JsonObject { ["type"] = "object", ["description"] = "The contract, with camelCase property names." },
                ["sentTime"] = new JsonObject { ["type"] = "string", ["format"] = "date-time", ["description"] = "When it was sent (UTC)." },
                ["headers"] = new JsonObject
                {
                    ["type"] = "object",
                    ["description"] = "Application headers; none are required.",
                },
            },
        };
    }

    private static JsonObject Operations()
    {
        var operations = new JsonObject();
        foreach (var (host, contract, where) in BusTopology.Publishes.OrderBy(x => x.Host, StringComparer.Ordinal).ThenBy(x => WireIdentity(x.Contract), StringComparer.Ordinal))
        {
            operations[$"{host}-publishes-{contract.Name}"] = Operation("send", host, contract.Name, [contract], $"{host} publishes {contract.Name}: {where}.");
        }

        foreach (var (host, queue, contract, where) in BusTopology.Sends)
        {
            operations[$"{host}-sends-{contract.Name}"] = Operation("send", host, queue, [contract], $"{host} sends {contract.Name} to the exchange {queue}: {where}.");
        }

        foreach (var (host, queue, contracts, where) in BusTopology.Receives)
        {
            operations[$"{host}-receives-{queue}"] = Operation("receive", host, queue, contracts, $"{host} consumes from the queue {queue}: {where}.");
        }

        return operations;
    }

    private static JsonObject Operation(string action, string host, string channel, IEnumerable<Type> contracts, string description) => new()
    {
        ["action"] = action,
        ["channel"] = Ref($"#/channels/{channel}"),
        ["description"] = description,
        ["tags"] = new JsonArray(new JsonObject { ["name"] = host }),
        ["messages"] = new JsonArray(contracts.Select(x => (JsonNode?)Ref($"#/channels/{channel}/messages/{x.Name}")).ToArray()),
    };

    private static IEnumerable<(string Host, string Name, Type[] Contracts)> Queues() =>
        BusTopology.Receives.Select(x => (x.Host, x.Queue, Contracts: (IEnumerable<Type>)x.Contracts))
            .Concat(BusTopology.Sends.Select(x => (Host: "its consumer", x.Queue, Contracts: (IEnumerable<Type>)[x.Contract])))
            .GroupBy(x => x.Queue, StringComparer.Ordinal)
            .OrderBy(x => x.Key, StringComparer.Ordinal)
            .Select(group => (group.First().Host, group.Key, group.SelectMany(x => x.Contracts).Distinct().OrderBy(WireIdentity, StringComparer.Ordinal).ToArray()));

    private static JsonObject Ref(string pointer) => new() { ["$ref"] = pointer };

    private static string ContractsVersion()
    {
        var version = typeof(WebhookReceived).Assembly.GetName().Version!;
        return $"{version.Major}.{version.Minor}.{version.Build}";
    }
}
