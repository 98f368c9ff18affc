using System.Security.Cryptography;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>
/// Which signing keys a host outside embedded mode accepts: with a key anyone could know, anyone could mint a token
/// with every scope.
/// </summary>
public sealed class AuthSettingsSpecs
{
    [Theory]
    [InlineData("k8s-placeholder-signing-key-change-me-00001")]
    [InlineData("compose-placeholder-signing-key-change-me-0001")]
    [InlineData("0000000000000000-PLACEHOLDER-0000000000000000")]
    [InlineData("ChangeMe-to-32-random-bytes-before-going-live")]
    [InlineData("our_dev_signing_key_for_laptops_only_000000")]
    [InlineData("an example key, long enough for HS256 anyway")]
    [InlineData("load-test-signing-key-of-at-least-32-bytes-0")]
    [InlineData("super.secret.signing.material.of.32.bytes.00")]
    public void A_key_whose_text_says_it_is_a_placeholder_is_refused_outside_embedded_mode(string placeholder)
    {
        // Second in the list, so the refusal has to name the entry that is wrong, not the first one.
        var configuration = Keys(IngestionApiFactory.TokenSigningKey, placeholder);

        var refused = Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(configuration, embedded: false));

        Assert.Equal("Backbone:Auth:SigningKeys:1", refused.Setting);
        Assert.DoesNotContain(placeholder, refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, BackboneAuthSettings.Load(configuration, embedded: true).SigningKeys.Count);
    }

    [Theory]
    [InlineData("front-door-signing-key-of-at-least-32-bytes")]
    [InlineData("reliability-signing-key-of-at-least-32-bytes")]
    [InlineData("signups-bench-signing-key-of-at-least-32-bytes")]
    public void A_key_that_has_been_published_in_the_repository_is_refused_outside_embedded_mode(string published)
    {
        var refused = Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(Keys(published), embedded: false));

        Assert.Equal("Backbone:Auth:SigningKeys:0", refused.Setting);
    }

    [Fact]
    public void A_random_key_is_accepted_outside_embedded_mode()
    {
        var base64 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

        Assert.Equal(2, BackboneAuthSettings.Load(Keys(IngestionApiFactory.TokenSigningKey, base64), embedded: false).SigningKeys.Count);
    }

    private static IConfiguration Keys(params string[] keys) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(keys.Select((key, index) => KeyValuePair.Create($"Backbone:Auth:SigningKeys:{index}", (string?)key)))
            .Build();
}
