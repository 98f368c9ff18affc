namespace EventBackbone.Cli.Tests;

/// <summary>Answers shaped like the dead-letter API's.</summary>
internal static class Samples
{
    public const string Id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    public const string OtherId = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    public const string JobId = "5c6b2f0e-7a8d-4b8e-9f10-3a2b1c0d9e8f";
    public const string Fingerprint = "0123456789abcdef0123456789abcdef";

    public static string Summary(string id = Id, string queue = "orders", string exceptionMessage = "the database connection was reset") => $$"""
        {"messageId":"{{id}}","sourceQueue":"{{queue}}","targetQueue":"{{queue}}_error","reason":"fault",
         "messageType":"urn:message:EventBackbone.Contracts:OrderSubmitted","exceptionType":"System.InvalidOperationException",
         "exceptionMessage":"{{exceptionMessage}}","fingerprint":"{{Fingerprint}}","failureCount":3,
         "firstFailedAt":"2026-11-28T08:00:00+00:00","lastFailedAt":"2026-11-28T08:30:15.123+00:00","status":"dead"}
        """;

    public static string Job(string status, int total, int replayed, int already = 0, int notFound = 0, int failed = 0) => $$"""
        {"jobId":"{{JobId}}","status":"{{status}}","total":{{total}},"replayed":{{replayed}},"alreadyReplayed":{{already}},
         "notFound":{{notFound}},"failed":{{failed}},"requestedBy":"ops","createdAt":"2026-11-28T09:00:00+00:00",
         "finishedAt":{{(status == "completed" ? "\"2026-11-28T09:01:00+00:00\"" : "null")}}}
        """;

    /// <summary>A page of the list: its items, the count of every match, and the next page's cursor.</summary>
    public static string Page(string? next = null, int? total = null, params string[] items) =>
        $$"""{"items":[{{string.Join(',', items)}}],"total":{{total ?? items.Length}},"next":{{(next is null ? "null" : $"\"{next}\"")}}}""";

    public const string JobLocation = "/api/v1/dead-letters/replays/" + JobId;
}
