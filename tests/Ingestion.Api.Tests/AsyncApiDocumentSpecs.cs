using System.Net;
using EventBackbone.Ingestion.Api.AsyncApi;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>docs/asyncapi.json is what the contracts generate: a changed contract without a regenerated document fails here.</summary>
public sealed class AsyncApiDocumentSpecs
{
    public const string UpdateVariable = "UPDATE_ASYNCAPI";

    public static string CheckedInPath { get; } = Path.Combine(FindRepositoryRoot(), "docs", "asyncapi.json");

    [Fact]
    public void The_checked_in_document_is_the_one_the_contracts_generate()
    {
        var generated = AsyncApiDocument.ToJson();
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(CheckedInPath, generated);
            // A run that rewrites the file proves nothing about it: fail, so a CI run with the variable set cannot pass.
            Assert.Fail($"{CheckedInPath} rewritten from src/Contracts; run again without {UpdateVariable} and commit it.");
        }

        var checkedIn = File.Exists(CheckedInPath) ? File.ReadAllText(CheckedInPath).ReplaceLineEndings("\n") : "(missing)";
        Assert.True(checkedIn == generated,
            $"{CheckedInPath} is not what src/Contracts generates. If the contract change is intended, regenerate it with\n"
            + $"  {UpdateVariable}=1 dotnet test tests/Ingestion.Api.Tests --filter FullyQualifiedName~AsyncApiDocumentSpecs\n"
            + "and commit the file; other teams build their publishers and consumers from it.\n"
            + $"First difference: {FirstDifference(checkedIn, generated)}");
    }

    [Fact]
    public void Every_contract_has_a_message_a_schema_and_an_exchange_channel()
    {
        var document = AsyncApiDocument.Build();

        foreach (var contract in AsyncApiDocument.Contracts)
        {
            Assert.Equal(AsyncApiDocument.WireIdentity(contract), (string?)document["components"]!["messages"]![contract.Name]!["bindings"]!["amqp"]!["messageType"]);
            Assert.NotNull(document["components"]!["schemas"]![contract.Name]!["properties"]);
            Assert.Equal(AsyncApiDocument.ExchangeOf(contract), (string?)document["channels"]![contract.Name]!["address"]);
        }
    }

    [Fact]
    public void A_schema_says_what_the_record_says_guids_times_nullability_and_required_members()
    {
        var schema = AsyncApiDocument.Build()["components"]!["schemas"]!["SignupRequested"]!;

        Assert.Equal("uuid", (string?)schema["properties"]!["signupId"]!["format"]);
        Assert.Equal("date-time", (string?)schema["properties"]!["requestedAt"]!["format"]);
        Assert.Equal("string", (string?)schema["properties"]!["email"]!["type"]);
        Assert.Equal(["string", "null"], schema["properties"]!["displayName"]!["type"]!.AsArray().Select(x => (string?)x));
        Assert.Equal(["signupId", "email", "displayName", "requestedAt"], schema["required"]!.AsArray().Select(x => (string?)x));
    }

    private static string FirstDifference(string expected, string actual)
    {
        var expectedLines = expected.Split('\n');
        var actualLines = actual.Split('\n');
        for (var line = 0; line < Math.Max(expectedLines.Length, actualLines.Length); line++)
        {
            var was = line < expectedLines.Length ? expectedLines[line] : "(end of file)";
            var now = line < actualLines.Length ? actualLines[line] : "(end of file)";
            if (was != now)
            {
                return $"line {line + 1}: checked in {was.Trim()} | generated {now.Trim()}";
            }
        }

        return "none";
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "EventBackbone.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No EventBackbone.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>The edge serves the same document, anonymously, beside /openapi/v1.json.</summary>
public sealed class AsyncApiEndpointSpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    [Fact]
    public async Task The_edge_serves_the_checked_in_document_at_asyncapi_json_without_a_token()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/asyncapi.json", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(File.ReadAllText(AsyncApiDocumentSpecs.CheckedInPath).ReplaceLineEndings("\n"), await response.Content.ReadAsStringAsync());
    }
}
