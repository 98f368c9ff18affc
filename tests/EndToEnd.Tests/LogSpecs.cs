using System.Net;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// The logs of a full run, as an on-call engineer and an auditor read them: no secret, signature, token or body in
/// any host's output, and every line written while a message is consumed tied to its trace and its message.
/// </summary>
public sealed class LogSpecs(SignupWorkflowFixture workflow) : IClassFixture<SignupWorkflowFixture>
{
    [Fact]
    public async Task A_full_run_logs_no_secret_signature_token_or_body_and_every_consume_line_carries_the_correlation_fields()
    {
        await workflow.SetProviderAsync("ok");
        var bodyMarker = $"body-marker-{Guid.NewGuid():N}";
        var webhookBody = $$"""{"ref":"refs/heads/main","head_commit":{"message":"{{bodyMarker}}"} }""";
        var signature = WebhookSigning.Sha256Header(SignupWorkflowFixture.GitHubSecret, webhookBody);
        using (var accepted = await workflow.PostGitHubWebhookAsync(webhookBody, signature))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        // A forged one: its (wrong) signature must not be logged either.
        var forgedSignature = "sha256=" + new string('a', 64);
        using (var forged = await workflow.PostGitHubWebhookAsync(webhookBody, forgedSignature))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }

        var email = $"logged-{Guid.NewGuid():N}@example.com";
        var signupId = await workflow.RequestSignupAsync(email);
        await workflow.WaitForWelcomeAsync(email, TimeSpan.FromSeconds(60));
        await workflow.VerifyAsync(signupId);
        // Completed, or Expired when the fixture's 4 s verification timeout ran out first on a loaded machine: either
        // way every host has logged its part of the workflow, which is what this spec reads.
        await Eventually.HoldsAsync(
            async () => (await workflow.SignupAsync(signupId))?.GetProperty("state").GetString() is "Completed" or "Expired",
            TimeSpan.FromSeconds(60), workflow.AllLogs);
        await Eventually.HoldsAsync(() => Task.FromResult(workflow.Workers.Output.Contains("Consumed webhook", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), workflow.AllLogs);

        var logs = workflow.AllLogs();
        foreach (var (what, value) in new[]
        {
            ("the webhook secret", SignupWorkflowFixture.GitHubSecret),
            ("the token signing key", SignupWorkflowFixture.SigningKey),
            ("a bearer token", workflow.Token),
            ("a webhook signature", signature["sha256=".Length..]),
            ("a forged signature", forgedSignature["sha256=".Length..]),
            ("a webhook body", bodyMarker),
            ("a signup's address", email),
        })
        {
            Assert.False(logs.Contains(value, StringComparison.Ordinal), $"The logs contain {what}.");
        }

        // The consume path: every line our consumers wrote names its trace, span, message, correlation and conversation.
        var consumeLines = new[] { workflow.Workers, workflow.Sagas }
            .SelectMany(host => host.Output.Split('\n'))
            .Where(line => line.StartsWith('{'))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(line => line.TryGetProperty("SourceContext", out var source) && source.GetString()!.EndsWith("Consumer", StringComparison.Ordinal))
            .ToList();
        Assert.True(consumeLines.Count >= 2, "The consumers wrote no lines to check.");
        foreach (var line in consumeLines)
        {
            foreach (var field in new[] { "@tr", "@sp", "MessageId", "CorrelationId", "ConversationId" })
            {
                Assert.True(line.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null, $"No {field} on {line}");
            }
        }
    }
}
