using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;

namespace EventBackbone.Ingestion.Api.Tests;

public sealed class DevTokenSpecs
{
    [Fact]
    public void The_dev_token_command_prints_a_token_with_the_chosen_scopes_and_subject()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = DevTokens.Run(["--scope", "commands:signup", "--scope", "commands:publish", "--subject", "me"], IngestionApiFactory.Auth, output, error);

        Assert.Equal(0, exitCode);
        var token = new JsonWebToken(output.ToString().Trim());
        Assert.Equal("me", token.Subject);
        Assert.Equal("commands:signup commands:publish", token.GetClaim("scope").Value);
        Assert.Equal("eventbackbone-api", Assert.Single(token.Audiences));
    }

    [Fact]
    public void Without_a_signing_key_the_dev_token_command_refuses_with_exit_code_78()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = DevTokens.Run(["--scope", "commands:signup"], IngestionApiFactory.Auth with { SigningKeys = [] }, output, error);

        Assert.Equal(78, exitCode);
        Assert.Empty(output.ToString());
        Assert.Contains("SigningKeys", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_published_dev_key_is_accepted_only_in_embedded_mode(bool embedded)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Backbone:Auth:SigningKeys:0"] = BackboneAuthSettings.PublishedDevKey })
            .Build();

        if (embedded)
        {
            Assert.Single(BackboneAuthSettings.Load(configuration, embedded).SigningKeys);
        }
        else
        {
            var refused = Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(configuration, embedded));
            Assert.Contains("Backbone:Auth:SigningKeys:0", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_signing_key_shorter_than_32_bytes_is_an_invalid_setting()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Backbone:Auth:SigningKeys:0"] = "short" })
            .Build();

        Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(configuration, embedded: true));
    }
}
