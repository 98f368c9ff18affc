using System.Security.Cryptography;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>
/// Which token issuers a host outside embedded mode accepts: a signing key anyone could know, or a JWKS fetched over
/// plain HTTP, would let anyone mint a token with every scope.
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

    [Theory]
    [InlineData("front-door-signing-key-of-at-least-32-bytes\n")]
    [InlineData("front-door-signing-key-of-at-least-32-bytes\r\n")]
    [InlineData(" front-door-signing-key-of-at-least-32-bytes")]
    [InlineData("front-door-signing-key-of-at-least-32-bytes\t")]
    public void A_published_key_padded_with_whitespace_is_refused_outside_embedded_mode(string padded)
    {
        // A key file written by `echo` or mounted with `kubectl create secret --from-file` ends in a newline: the key
        // bytes then differ from the published key's, and an attacker need only try the published key plus "\n".
        var configuration = Keys(IngestionApiFactory.TokenSigningKey, padded);

        var refused = Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(configuration, embedded: false));

        Assert.Equal("Backbone:Auth:SigningKeys:1", refused.Setting);
        Assert.Contains("whitespace", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, BackboneAuthSettings.Load(configuration, embedded: true).SigningKeys.Count);
    }

    [Fact]
    public void A_random_key_padded_with_whitespace_is_refused_outside_embedded_mode()
    {
        // Refused rather than trimmed: the bytes the host signs with would no longer be the bytes an issuer configured
        // from the same file signs with, and every token would fail validation for a reason nobody could see.
        var padded = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n";

        var refused = Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(Keys(padded), embedded: false));

        Assert.Equal("Backbone:Auth:SigningKeys:0", refused.Setting);
    }

    [Fact]
    public void A_random_key_is_accepted_outside_embedded_mode()
    {
        var base64 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

        Assert.Equal(2, BackboneAuthSettings.Load(Keys(IngestionApiFactory.TokenSigningKey, base64), embedded: false).SigningKeys.Count);
    }

    [Theory]
    [InlineData("http://idp.internal/realms/backbone", false, null, "refused")]
    [InlineData("http://idp.internal/realms/backbone", false, "false", "refused")]
    [InlineData("http://idp.internal/realms/backbone", false, "true", "accepted")]
    [InlineData("http://127.0.0.1:8080/realms/backbone", true, null, "accepted")]
    [InlineData("https://idp.internal/realms/backbone", false, null, "accepted")]
    public void An_http_authority_is_refused_outside_embedded_mode_unless_explicitly_allowed(
        string authority, bool embedded, string? allowInsecure, string outcome)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Backbone:Auth:Authority"] = authority,
                ["Backbone:Auth:AllowInsecureAuthority"] = allowInsecure,
            })
            .Build();

        if (outcome == "refused")
        {
            var refused = Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(configuration, embedded));
            Assert.Equal("Backbone:Auth:Authority", refused.Setting);
            Assert.Contains("Backbone:Auth:AllowInsecureAuthority", refused.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(new Uri(authority), BackboneAuthSettings.Load(configuration, embedded).Authority);
        }
    }

    [Fact]
    public void Allowing_an_insecure_authority_takes_true_or_false_only()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Backbone:Auth:Authority"] = "http://idp.internal/realms/backbone",
                ["Backbone:Auth:AllowInsecureAuthority"] = "yes",
            })
            .Build();

        var refused = Assert.Throws<InvalidSettingException>(() => BackboneAuthSettings.Load(configuration, embedded: false));

        Assert.Equal("Backbone:Auth:AllowInsecureAuthority", refused.Setting);
    }

    private static IConfiguration Keys(params string[] keys) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(keys.Select((key, index) => KeyValuePair.Create($"Backbone:Auth:SigningKeys:{index}", (string?)key)))
            .Build();
}
