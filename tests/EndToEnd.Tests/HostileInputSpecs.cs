using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// A fuzz pass against the real Ingestion.Api process over a real socket: random and malformed headers, bodies and
/// encodings, huge and slow bodies, header floods, forged tokens and path tricks. Whatever arrives, the API answers
/// with a 4xx or closes the connection — never a 5xx, never a hang — stays alive, ready and within its memory bound,
/// and accepts nothing but the control requests mixed in. Randomness is seeded (the seed is in every failure).
/// </summary>
public sealed class HostileInputSpecs(HostileInputFixture fixture) : IClassFixture<HostileInputFixture>
{
    private static readonly string[] Sources = ["github", "shop", "stripe", "standard"];

    private static readonly Uri RequestSignup = new("/api/v1/commands/request-signup", UriKind.Relative);

    private Uri Server => fixture.Api.BaseAddress;

    [Fact]
    public async Task Random_garbage_webhooks_are_refused_with_a_4xx_and_accept_nothing()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Random_garbage_webhooks_are_refused_with_a_4xx_and_accept_nothing));
        var controls = new ConcurrentBag<Guid>();
        await Parallel.ForEachAsync(Enumerable.Range(0, fixture.Iterations), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
        {
            var random = new Random(fixture.Seed + i);
            if (i % 25 == 0)
            {
                // A control among the garbage: a correctly signed webhook is still accepted while the API is under fire.
                var source = Sources[random.Next(Sources.Length)];
                var control = await fixture.SendSignedAsync(source, Encoding.UTF8.GetBytes($$"""{"control":{{i}}}"""));
                outcomes.Expect($"control #{i} ({source})", control, 202);
                if (control.Status == 202)
                {
                    controls.Add(HostileInputFixture.EventId(control));
                }

                return;
            }

            var (description, head, body) = GarbageWebhook(random);
            var response = await HostileHttp.SendAsync(Server, head, body);
            outcomes.ExpectRefused($"#{i}: {description}", response);
        });

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, controls, [], $"seed {fixture.Seed}");
    }

    [Fact]
    public async Task Correctly_signed_webhooks_with_hostile_bodies_are_answered_as_documented_never_5xx()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Correctly_signed_webhooks_with_hostile_bodies_are_answered_as_documented_never_5xx));
        var accepted = new List<Guid>();
        // 400 "not well-formed UTF-8 JSON" is the documented answer for every body that is not; well-formed JSON,
        // however odd, is accepted (202).
        (string Name, byte[] Body, int Status)[] cases =
        [
            ("invalid UTF-8 inside a JSON string", [.. "{\"a\":\""u8, 0xFF, 0xFE, .. "\"}"u8], 400),
            ("an overlong UTF-8 encoding of '/'", [.. "{\"a\":\""u8, 0xC0, 0xAF, .. "\"}"u8], 400),
            ("a UTF-8 encoded lone surrogate", [.. "{\"a\":\""u8, 0xED, 0xA0, 0x80, .. "\"}"u8], 400),
            ("a truncated UTF-8 sequence at the end of a string", [.. "{\"a\":\""u8, 0xE2, 0x82, .. "\"}"u8], 400),
            ("invalid UTF-8 in a property name", [.. "{\""u8, 0xFF, .. "\":1}"u8], 400),
            ("binary", [0x00, 0x01, 0x02, 0xFF, 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], 400),
            ("plain text", "hello, world"u8.ToArray(), 400),
            ("an empty body", [], 400),
            ("only whitespace", "  \r\n\t "u8.ToArray(), 400),
            ("JSON followed by garbage", "{\"a\":1} trailing"u8.ToArray(), 400),
            ("two JSON documents", "{}{}"u8.ToArray(), 400),
            ("a raw control character in a string", "{\"a\":\"\u0001\"}"u8.ToArray(), 400),
            ("a raw NUL in a string", [.. "{\"a\":\""u8, 0x00, .. "\"}"u8], 400),
            ("single quotes", "{'a':1}"u8.ToArray(), 400),
            ("a comment", "{\"a\":1 /* c */}"u8.ToArray(), 400),
            ("a trailing comma", "{\"a\":1,}"u8.ToArray(), 400),
            ("NaN", "{\"a\":NaN}"u8.ToArray(), 400),
            ("nesting deeper than the parser allows", Encoding.ASCII.GetBytes(new string('[', 5000) + new string(']', 5000)), 400),
            ("a UTF-16 body", Encoding.Unicode.GetBytes("{\"a\":1}"), 400),
            ("an escaped NUL", "{\"a\":\"\\u0000\"}"u8.ToArray(), 202),
            ("an escaped lone surrogate", "{\"a\":\"\\ud800\"}"u8.ToArray(), 202),
            ("a number beyond any numeric type", "{\"a\":1e999999}"u8.ToArray(), 202),
            ("duplicate keys", "{\"a\":1,\"a\":null}"u8.ToArray(), 202),
            ("a bare JSON string", "\"just a string\""u8.ToArray(), 202),
            ("nesting the parser still allows", Encoding.ASCII.GetBytes(new string('[', 60) + new string(']', 60)), 202),
        ];
        foreach (var (name, body, status) in cases)
        {
            foreach (var source in Sources)
            {
                var response = await fixture.SendSignedAsync(source, body);
                outcomes.Expect($"{name} to {source}", response, status);
                if (response.Status == 202)
                {
                    accepted.Add(HostileInputFixture.EventId(response));
                }
            }
        }

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, accepted, [], "signed hostile bodies");
    }

    [Fact]
    public async Task Correctly_signed_webhooks_with_values_too_long_to_store_are_refused_with_400_and_never_fail_the_webhooks_committed_with_them()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Correctly_signed_webhooks_with_values_too_long_to_store_are_refused_with_400_and_never_fail_the_webhooks_committed_with_them));
        var body = "{\"hostile\":\"headers\"}"u8.ToArray();
        var tooLong = new string('d', 201);
        var controls = new ConcurrentBag<Guid>();
        // Each is correctly signed: the sender holds the secret, but what it sends cannot be stored as a receipt.
        (string Name, Func<Task<HostileResponse>> Send)[] hostile =
        [
            ("a 201-character GitHub delivery id", () => SendWithAsync("github", body, ("X-GitHub-Delivery", tooLong))),
            ("a 201-character GitHub event name", () => SendWithAsync("github", body, ("X-GitHub-Event", tooLong))),
            ("a 201-character Hmac delivery id", () => SendWithAsync("shop", body, ("X-Shop-Delivery", tooLong))),
            ("a 201-character Standard Webhooks id", () => HostileHttp.SendAsync(Server,
                Head("/api/v1/webhooks/standard", [("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. HostileInputFixture.SignatureHeaders("standard", body, deliveryId: tooLong)]),
                body)),
            ("a 201-character Stripe event id", () => fixture.SendSignedAsync("stripe", Encoding.UTF8.GetBytes($$"""{"id":"{{tooLong}}"}"""))),
            ("a Stripe event id with an escaped NUL", () => fixture.SendSignedAsync("stripe", "{\"id\":\"evt_\\u0000\"}"u8.ToArray())),
            ("a Stripe event id with an escaped lone surrogate", () => fixture.SendSignedAsync("stripe", "{\"id\":\"evt_\\ud800\"}"u8.ToArray())),
            ("a 300-character content type", () => fixture.SendSignedAsync("github", body, "application/json; p=" + new string('c', 280))),
        ];
        foreach (var (name, send) in hostile)
        {
            // Sent together with valid webhooks, so they share a group commit: one bad row must not fail the others.
            var valid = Enumerable.Range(0, 8).Select(i => fixture.SendSignedAsync(Sources[i % Sources.Length], Encoding.UTF8.GetBytes($$"""{"beside":"{{name}}","n":{{i}}}"""))).ToList();
            var refused = send();
            outcomes.ExpectRefused(name, await refused, 400);
            foreach (var response in await Task.WhenAll(valid))
            {
                outcomes.Expect($"a valid webhook sent together with {name}", response, 202);
                if (response.Status == 202)
                {
                    controls.Add(HostileInputFixture.EventId(response));
                }
            }
        }

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, controls, [], "signed values too long to store");
    }

    private Task<HostileResponse> SendWithAsync(string source, byte[] body, params (string Name, string Value)[] replaced)
    {
        var headers = HostileInputFixture.SignatureHeaders(source, body)
            .Where(header => !replaced.Any(x => x.Name.Equals(header.Name, StringComparison.OrdinalIgnoreCase)));
        return HostileHttp.SendAsync(Server,
            Head($"/api/v1/webhooks/{source}", [("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. headers, .. replaced]),
            body);
    }

    [Fact]
    public async Task Oversized_bodies_are_refused_with_413_or_a_closed_connection_however_they_are_framed()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Oversized_bodies_are_refused_with_413_or_a_closed_connection_however_they_are_framed));
        var limit = HostileInputFixture.ShopMaxBodyBytes;
        var atLimit = JsonOfLength(limit);
        var overLimit = JsonOfLength(limit + 1);
        var accepted = new List<Guid>();

        // The boundary, correctly signed: exactly the limit is accepted, one byte more is refused.
        var exact = await fixture.SendSignedAsync("shop", atLimit);
        outcomes.Expect("a signed body of exactly the limit", exact, 202);
        if (exact.Status == 202)
        {
            accepted.Add(HostileInputFixture.EventId(exact));
        }

        outcomes.ExpectRefused("a signed body one byte over the limit, with its length", await fixture.SendSignedAsync("shop", overLimit), 413);
        outcomes.ExpectRefused("a signed body one byte over the limit, chunked",
            await HostileHttp.SendAsync(Server, ShopHead(overLimit, chunked: true), (stream, token) => WriteChunkedAsync(stream, overLimit, 1024, token)), 413);
        outcomes.ExpectRefused("10 MiB declared and sent",
            await HostileHttp.SendAsync(Server, ShopHead(null, contentLength: 10 * 1024 * 1024), (stream, token) => WriteZerosAsync(stream, 10 * 1024 * 1024, token)), 413);
        outcomes.ExpectRefused("an endless chunked body",
            await HostileHttp.SendAsync(Server, ShopHead(null, chunked: true), (stream, token) => WriteChunkedAsync(stream, null, 8 * 1024, token)), 413);
        outcomes.ExpectRefused("a length beyond Kestrel's own limit (100 GiB) to a 1 MiB source",
            await HostileHttp.SendAsync(Server, Head("/api/v1/webhooks/github", ("Content-Type", "application/json"), ("Content-Length", "107374182400")), (stream, token) => WriteZerosAsync(stream, 1024 * 1024, token)), 413);
        outcomes.ExpectRefused("a Content-Length that overflows a 64-bit integer",
            await HostileHttp.SendAsync(Server, Head("/api/v1/webhooks/shop", ("Content-Type", "application/json"), ("Content-Length", "99999999999999999999999")), [1]));
        outcomes.ExpectRefused("a negative Content-Length",
            await HostileHttp.SendAsync(Server, Head("/api/v1/webhooks/shop", ("Content-Type", "application/json"), ("Content-Length", "-1")), [1]));
        outcomes.ExpectRefused("two different Content-Lengths",
            await HostileHttp.SendAsync(Server, Head("/api/v1/webhooks/shop", ("Content-Type", "application/json"), ("Content-Length", "2"), ("Content-Length", "20000")), "{}"u8.ToArray()));
        outcomes.ExpectRefused("Content-Length and chunked together (request smuggling)",
            await HostileHttp.SendAsync(Server, Head("/api/v1/webhooks/shop", ("Content-Type", "application/json"), ("Content-Length", "5"), ("Transfer-Encoding", "chunked")), "0\r\n\r\nGET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray()));
        outcomes.ExpectRefused("a lying, short Content-Length with a signed long body after it",
            await HostileHttp.SendAsync(Server, ShopHead(overLimit, contentLength: 100), overLimit));
        outcomes.ExpectRefused("malformed chunk framing",
            await HostileHttp.SendAsync(Server, ShopHead(null, chunked: true), "zz\r\n{}\r\n0\r\n\r\n"u8.ToArray()));
        outcomes.ExpectRefused("a chunk size that overflows",
            await HostileHttp.SendAsync(Server, ShopHead(null, chunked: true), "FFFFFFFFFFFFFFFFFFFF\r\n{}\r\n"u8.ToArray()));
        outcomes.ExpectRefused("an unknown transfer coding",
            await HostileHttp.SendAsync(Server, Head("/api/v1/webhooks/shop", ("Content-Type", "application/json"), ("Transfer-Encoding", "gzip, chunked, identity")), "2\r\n{}\r\n0\r\n\r\n"u8.ToArray()));

        // Commands read their own, smaller limit (64 KiB) the same way.
        var command = Encoding.UTF8.GetBytes($$"""{"email":"a@example.com","displayName":"{{new string('x', 70 * 1024)}}"}""");
        outcomes.ExpectRefused("a command body over 64 KiB, with its length",
            await HostileHttp.SendAsync(Server, Head(RequestSignup.OriginalString, ("Authorization", $"Bearer {fixture.Token}"), ("Content-Type", "application/json"), ("Content-Length", command.Length.ToString(CultureInfo.InvariantCulture))), command), 413);
        outcomes.ExpectRefused("a command body over 64 KiB, chunked",
            await HostileHttp.SendAsync(Server, Head(RequestSignup.OriginalString, ("Authorization", $"Bearer {fixture.Token}"), ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")), (stream, token) => WriteChunkedAsync(stream, command, 4096, token)), 413);

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, accepted, [], "oversized bodies");
    }

    [Fact]
    public async Task Bodies_and_headers_trickled_slower_than_the_minimum_rate_are_cut_off_within_a_bound()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Bodies_and_headers_trickled_slower_than_the_minimum_rate_are_cut_off_within_a_bound));
        // Kestrel's minimum body rate is 240 B/s after a 5 s grace, and headers must be complete within 10 s: each of
        // these is cut off by then, well within the bound; none of them may hang the test or occupy the server.
        var bound = TimeSpan.FromSeconds(40);
        var body = JsonOfLength(4096);
        var slowBody = HostileHttp.SendAsync(Server, ShopHead(body), (stream, token) => TrickleAsync(stream, body, TimeSpan.FromMilliseconds(250), token), bound);
        var slowChunks = HostileHttp.SendAsync(Server, ShopHead(null, chunked: true), (stream, token) => TrickleAsync(stream, Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("1\r\nx\r\n", 1000))), TimeSpan.FromMilliseconds(250), token), bound);
        var stalledBody = HostileHttp.SendAsync(Server, ShopHead(body), (stream, token) => stream.WriteAsync(body.AsMemory(0, 10), token).AsTask(), bound);
        var slowHeaders = HostileHttp.SendAsync(Server, [], (stream, token) => TrickleAsync(stream, ShopHead(body), TimeSpan.FromMilliseconds(250), token), bound);
        // While they trickle, others are served.
        var control = await fixture.SendSignedAsync("github", "{\"during\":\"trickle\"}"u8.ToArray());

        outcomes.ExpectRefused("a body trickled at 4 B/s", await slowBody, 408);
        outcomes.ExpectRefused("chunks trickled at 4 B/s", await slowChunks, 408);
        outcomes.ExpectRefused("a body that stalls after 10 bytes", await stalledBody, 408);
        outcomes.ExpectRefused("headers trickled at 4 B/s (slowloris)", await slowHeaders, 408);
        outcomes.Expect("a webhook sent while the others trickle", control, 202);
        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, control.Status == 202 ? [HostileInputFixture.EventId(control)] : [], [], "slow bodies");
    }

    [Fact]
    public async Task Header_floods_and_malformed_header_syntax_are_refused_with_a_4xx_or_a_closed_connection()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Header_floods_and_malformed_header_syntax_are_refused_with_a_4xx_or_a_closed_connection));
        var body = "{\"flood\":true}"u8.ToArray();
        IEnumerable<(string, string)> Signed() => HostileInputFixture.SignatureHeaders("github", body);
        async Task Refused(string name, byte[] head, params int[] statuses) =>
            outcomes.ExpectRefused(name, await HostileHttp.SendAsync(Server, head, body), statuses);
        byte[] Github(params (string, string)[] extra) =>
            Head("/api/v1/webhooks/github", [("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. Signed(), .. extra]);

        await Refused("200 headers", Github([.. Enumerable.Range(0, 200).Select(i => ($"X-Flood-{i}", "x"))]), 431);
        await Refused("one 40 KiB header", Github(("X-Huge", new string('a', 40 * 1024))), 431);
        await Refused("a 40 KiB signature header", Head("/api/v1/webhooks/github", ("Content-Type", "application/json"), ("Content-Length", "14"), ("X-Hub-Signature-256", "sha256=" + new string('a', 40 * 1024))), 431);
        await Refused("60 headers of 1 KiB", Github([.. Enumerable.Range(0, 60).Select(i => ($"X-Wide-{i}", new string('b', 1024)))]), 431);
        await Refused("a 10 KiB request line", Head("/api/v1/webhooks/github?" + new string('q', 10 * 1024), ("Content-Type", "application/json")), 414);
        await Refused("a header without a colon", Encoding.ASCII.GetBytes("POST /api/v1/webhooks/github HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nContent-Length: 14\r\n\r\n"), 400);
        await Refused("a space in a header name", Github(("X Bad", "1")), 400);
        await Refused("an obsolete folded header line", Github(("X-Folded", "a\r\n b")), 400);
        // Kestrel tolerates bare LF; this request then lacks a content type and a signature.
        await Refused("bare LF line endings", Encoding.ASCII.GetBytes("POST /api/v1/webhooks/github HTTP/1.1\nHost: x\nContent-Length: 14\n\n"));
        await Refused("a NUL in a header value", Github(("X-Nul", "a\0b")), 400);
        await Refused("a bare CR in a header value", Github(("X-Cr", "a\rb")), 400);
        await Refused("a NUL in the signature", Head("/api/v1/webhooks/github", ("Content-Type", "application/json"), ("Content-Length", "14"), ("X-Hub-Signature-256", "sha256=\0")), 400, 401);
        await Refused("an HTTP/0.9 request line", Encoding.ASCII.GetBytes("POST /api/v1/webhooks/github\r\n\r\n"), 400);
        // 505 is the protocol's own answer to a version it does not speak, not a failure of the server.
        await Refused("an unknown HTTP version", Encoding.ASCII.GetBytes("POST /api/v1/webhooks/github HTTP/7.1\r\nHost: x\r\n\r\n"), 400, 505);
        await Refused("garbage instead of a request", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, .. new byte[64]], 400);
        await Refused("no Host header", Encoding.ASCII.GetBytes("POST /api/v1/webhooks/github HTTP/1.1\r\nContent-Length: 14\r\n\r\n"), 400);
        await Refused("two Host headers", Github(("Host", "evil.example")), 400);

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, [], [], "header floods");
    }

    [Fact]
    public async Task Path_tricks_never_reach_a_handler_that_accepts()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Path_tricks_never_reach_a_handler_that_accepts));
        // Correctly signed for the github source and carrying a valid signup body: a trick that reached a handler
        // and was accepted would show as a 2xx (and a row), not hide behind a missing signature.
        var body = "{\"email\":\"trick@example.com\"}"u8.ToArray();
        string[] targets =
        [
            "/api/v1/webhooks/..%2f..%2fcommands/request-signup",
            "/api/v1/webhooks/..%2F..%2Fcommands%2Frequest-signup",
            "/api/v1/webhooks/github%2f..%2f..%2fcommands%2frequest-signup",
            "/api/v1/webhooks/../commands/request-signup",
            "/api/v1/webhooks/%2e%2e/commands/request-signup",
            "/api/v1/webhooks/github/../../commands/request-signup",
            "/api/v1/webhooks/github%2F",
            "/api/v1/webhooks/github%2Fx",
            "/api/v1/webhooks/github.",
            "/api/v1/webhooks/github%2e",
            "/api/v1/webhooks/github..",
            "/api/v1/webhooks/github%20",
            "/api/v1/webhooks/github%00",
            "/api/v1/webhooks/github;x=y",
            "/api/v1/webhooks/GITHUB",
            "/api/v1/webhooks/g%C3%ADthub",
            "/api/v1/webhooks/%C4%B1thub",
            "/api/v1/webhooks/github%C0%AF",
            "/api/v1/webhooks/%FF%FE",
            "/api/v1/webhooks/gith\u00FCb",
            "/api/v1/webhooks/git hub",
            "/api/v1/webhooks/" + new string('a', 64),
            "/api/v1/webhooks/" + new string('a', 65),
            "/api/v1/webhooks/" + new string('a', 7000),
            "/api/v1/webhooks/" + string.Concat(Enumerable.Repeat("%E2%80%AE", 500)),
            "/api/v1/webhooks/",
            "/api/v1/webhooks//github",
            "/api/v1/webhooks/github/extra",
            "/api/v1/webhooks/%252e%252e%252fcommands",
            "//api/v1/webhooks/github",
            "/api/v1/commands/..%2fwebhooks/github",
            "/api/v1/commands/request-signup%2f..%2f..%2fwebhooks%2fgithub",
            "/api/v1/commands/" + new string('c', 7000),
            "/api/v1/commands/%00",
            "/api/v1/events/..%2f..%2fwebhooks/github",
            "*",
            "http://127.0.0.1/../../../etc/passwd",
            "api/v1/webhooks/github",
        ];
        foreach (var target in targets)
        {
            var head = Head(target, [("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. HostileInputFixture.SignatureHeaders("github", body)]);
            outcomes.ExpectRefused($"POST {Shorten(target)}", await HostileHttp.SendAsync(Server, head, body));
        }

        // Other methods on the real route, and methods that do not exist.
        foreach (var method in new[] { "GET", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "PROPFIND", "P\u00D6ST", "POST\0" })
        {
            var head = HostileHttp.Head(method, "/api/v1/webhooks/github", Server, [("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. HostileInputFixture.SignatureHeaders("github", body)]);
            outcomes.ExpectRefused($"{method.Replace("\0", "\\0", StringComparison.Ordinal)} on the webhook route", await HostileHttp.SendAsync(Server, head, body));
        }

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, [], [], "path tricks");
    }

    [Fact]
    public async Task Forged_expired_and_malformed_bearer_tokens_are_refused_with_401_and_a_missing_scope_with_403()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Forged_expired_and_malformed_bearer_tokens_are_refused_with_401_and_a_missing_scope_with_403));
        var key = HostileInputFixture.SigningKey;
        const string scope = "commands:signup";
        Dictionary<string, object> Claims(Action<Dictionary<string, object>>? change = null)
        {
            var claims = HostileTokens.Claims("intruder", scope);
            change?.Invoke(claims);
            return claims;
        }

        var valid = HostileTokens.Hs256(key, Claims());
        var parts = valid.Split('.');
        (string Name, string? Authorization, int Status)[] cases =
        [
            ("no token", null, 401),
            ("alg none", HostileTokens.Unsigned(Claims()), 401),
            ("alg None", HostileTokens.Unsigned(Claims(), "None"), 401),
            ("alg nOnE", HostileTokens.Unsigned(Claims(), "nOnE"), 401),
            ("alg none with the valid signature kept", HostileTokens.Unsigned(Claims()) + parts[2], 401),
            ("the valid signature under an alg none header", $"{HostileTokens.Segment(new Dictionary<string, object> { ["alg"] = "none" })}.{parts[1]}.{parts[2]}", 401),
            ("signed with another key", HostileTokens.Hs256("some-other-key-that-is-at-least-32-bytes-long", Claims()), 401),
            ("signed with an empty key", HostileTokens.Hs256("", Claims()), 401),
            ("claims changed after signing", $"{parts[0]}.{HostileTokens.Segment(Claims(c => c["scope"] = "commands:signup commands:publish"))}.{parts[2]}", 401),
            ("RS256 header over an HMAC signature (algorithm confusion)", HostileTokens.Hs256(key, Claims(), new Dictionary<string, object> { ["alg"] = "RS256", ["typ"] = "JWT" }), 401),
            ("an embedded jwk", HostileTokens.Hs256("attacker-key-that-is-at-least-32-bytes-long", Claims(), new Dictionary<string, object> { ["alg"] = "HS256", ["jwk"] = new Dictionary<string, object> { ["kty"] = "oct", ["k"] = HostileTokens.Base64Url(Encoding.UTF8.GetBytes("attacker-key-that-is-at-least-32-bytes-long")) } }), 401),
            ("a jku pointing elsewhere", HostileTokens.Hs256("attacker-key-that-is-at-least-32-bytes-long", Claims(), new Dictionary<string, object> { ["alg"] = "HS256", ["jku"] = "http://127.0.0.1:1/jwks" }), 401),
            ("expired an hour ago", HostileTokens.Hs256(key, Claims(c => { c["exp"] = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(); c["nbf"] = DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeSeconds(); })), 401),
            ("not valid before tomorrow", HostileTokens.Hs256(key, Claims(c => c["nbf"] = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds())), 401),
            ("no expiry", HostileTokens.Hs256(key, Claims(c => c.Remove("exp"))), 401),
            ("an expiry that is not a number", HostileTokens.Hs256(key, Claims(c => c["exp"] = "tomorrow")), 401),
            ("an expiry beyond any date", HostileTokens.Hs256(key, Claims(c => c["exp"] = 1e300)), 401),
            ("the wrong issuer", HostileTokens.Hs256(key, Claims(c => c["iss"] = "evil")), 401),
            ("no issuer", HostileTokens.Hs256(key, Claims(c => c.Remove("iss"))), 401),
            ("the wrong audience", HostileTokens.Hs256(key, Claims(c => c["aud"] = "another-api")), 401),
            ("an audience list without ours", HostileTokens.Hs256(key, Claims(c => c["aud"] = new[] { "a", "b" })), 401),
            ("no audience", HostileTokens.Hs256(key, Claims(c => c.Remove("aud"))), 401),
            ("a valid token without the scope", HostileTokens.Hs256(key, Claims(c => c["scope"] = "commands:verify-email")), 403),
            ("a valid token with a look-alike scope", HostileTokens.Hs256(key, Claims(c => c["scope"] = "commands:signup-all commands:signu")), 403),
            ("a valid token with the scope as a number", HostileTokens.Hs256(key, Claims(c => c["scope"] = 42)), 403),
            ("garbage", "garbage", 401),
            ("two segments", $"{parts[0]}.{parts[1]}", 401),
            ("five segments (a JWE shape)", $"{parts[0]}.{parts[1]}.x.y.z", 401),
            ("segments that are not base64url", "!!!.@@@.###", 401),
            ("a header that is not JSON", $"{HostileTokens.Base64Url("not json"u8.ToArray())}.{parts[1]}.{parts[2]}", 401),
            ("claims that are a JSON array", HostileTokens.Hs256(key, new Dictionary<string, object>()).Replace(HostileTokens.Segment(new Dictionary<string, object>()), HostileTokens.Base64Url("[1,2]"u8.ToArray()), StringComparison.Ordinal), 401),
            ("a 20 KiB token", $"{parts[0]}.{HostileTokens.Base64Url(new byte[15 * 1024])}.{parts[2]}", 401),
            ("a 30 KiB token of one character", new string('A', 30 * 1024), 401),
        ];
        var body = "{\"email\":\"token-case@example.com\"}"u8.ToArray();
        foreach (var (name, token, status) in cases)
        {
            (string, string)[] authorization = token is null ? [] : [("Authorization", $"Bearer {token}")];
            var head = Head(RequestSignup.OriginalString, [("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. authorization]);
            outcomes.ExpectRefused($"token: {name}", await HostileHttp.SendAsync(Server, head, body), status);
        }

        // Authorization headers that are not a bearer token at all.
        (string Name, (string, string)[] Headers)[] schemes =
        [
            ("an empty Bearer", [("Authorization", "Bearer ")]),
            ("Bearer with only spaces", [("Authorization", "Bearer      ")]),
            ("Basic credentials", [("Authorization", "Basic " + Convert.ToBase64String("admin:admin"u8.ToArray()))]),
            ("two Authorization headers, one forged", [("Authorization", $"Bearer {HostileTokens.Unsigned(Claims())}"), ("Authorization", $"Bearer {HostileTokens.Unsigned(Claims())}")]),
            ("a token with Latin-1 bytes", [("Authorization", "Bearer \u00FF\u00FE\u00E9")]),
            ("a token in the query string only", []),
        ];
        foreach (var (name, headers) in schemes)
        {
            var target = headers.Length == 0 ? $"{RequestSignup}?access_token={valid}" : RequestSignup.OriginalString;
            var head = Head(target, [("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. headers]);
            outcomes.ExpectRefused($"authorization: {name}", await HostileHttp.SendAsync(Server, head, body), 400, 401);
        }

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, [], [], "tokens");
    }

    [Fact]
    public async Task Hostile_command_bodies_are_refused_with_400_or_422_never_5xx()
    {
        var before = await fixture.AcceptedRowsAsync();
        var outcomes = new Outcomes(fixture, nameof(Hostile_command_bodies_are_refused_with_400_or_422_never_5xx));
        var commands = new List<Guid>();
        var deep = new string('[', 63) + new string(']', 63);
        var tooDeep = new string('[', 5000) + new string(']', 5000);
        var hugeArray = "[" + string.Join(',', Enumerable.Repeat("1", 30_000)) + "]";
        var guid = Guid.NewGuid();
        (string Command, string Name, byte[] Body)[] cases =
        [
            ("request-signup", "email as a number", "{\"email\":42}"u8.ToArray()),
            ("request-signup", "email as an array", "{\"email\":[\"a@example.com\"]}"u8.ToArray()),
            ("request-signup", "email as an object", "{\"email\":{\"address\":\"a@example.com\"}}"u8.ToArray()),
            ("request-signup", "email as true", "{\"email\":true}"u8.ToArray()),
            ("request-signup", "email null", "{\"email\":null}"u8.ToArray()),
            ("request-signup", "a valid email, then the same key null", "{\"email\":\"dup@example.com\",\"email\":null}"u8.ToArray()),
            ("request-signup", "a valid email, then the same key in other case null", "{\"email\":\"dup@example.com\",\"Email\":null}"u8.ToArray()),
            ("request-signup", "a valid email, then the same key as a number", "{\"email\":\"dup@example.com\",\"email\":7}"u8.ToArray()),
            ("request-signup", "a valid email, then an invalid one under the same key", "{\"email\":\"dup@example.com\",\"email\":\"nope\"}"u8.ToArray()),
            ("request-signup", "displayName as an object", "{\"email\":\"a@example.com\",\"displayName\":{}}"u8.ToArray()),
            ("request-signup", "a valid email, then displayName duplicated as a number", "{\"email\":\"a@example.com\",\"displayName\":\"A\",\"displayName\":1}"u8.ToArray()),
            ("request-signup", "an escaped NUL in the email", "{\"email\":\"a\\u0000@example.com\"}"u8.ToArray()),
            ("request-signup", "an escaped lone surrogate in the email", "{\"email\":\"\\ud800@example.com\"}"u8.ToArray()),
            ("request-signup", "invalid UTF-8 in the email", [.. "{\"email\":\""u8, 0xFF, .. "@example.com\"}"u8]),
            ("request-signup", "an email of 300 characters", Encoding.UTF8.GetBytes($$"""{"email":"{{new string('a', 290)}}@example.com"}""")),
            ("request-signup", "an unknown field", "{\"email\":\"a@example.com\",\"isAdmin\":true}"u8.ToArray()),
            ("request-signup", "a huge array as the email", Encoding.ASCII.GetBytes($$"""{"email":{{hugeArray}}}""")),
            ("request-signup", "nesting the parser allows", Encoding.ASCII.GetBytes($$"""{"email":{{deep}}}""")),
            ("request-signup", "nesting deeper than the parser allows", Encoding.ASCII.GetBytes(tooDeep)),
            ("request-signup", "null", "null"u8.ToArray()),
            ("request-signup", "an array", "[]"u8.ToArray()),
            ("request-signup", "a string", "\"a@example.com\""u8.ToArray()),
            ("request-signup", "a number", "1e999999"u8.ToArray()),
            ("request-signup", "an empty object", "{}"u8.ToArray()),
            ("request-signup", "an empty body", []),
            ("request-signup", "binary", [0x00, 0xFF, 0x01, 0xFE]),
            ("verify-email", "signupId not a UUID", "{\"signupId\":\"not-a-uuid\"}"u8.ToArray()),
            ("verify-email", "signupId a number", "{\"signupId\":12345}"u8.ToArray()),
            ("verify-email", "signupId null", "{\"signupId\":null}"u8.ToArray()),
            ("verify-email", "signupId the empty UUID", "{\"signupId\":\"00000000-0000-0000-0000-000000000000\"}"u8.ToArray()),
            ("verify-email", "a valid signupId, then the same key null", Encoding.ASCII.GetBytes($$"""{"signupId":"{{guid}}","signupId":null}""")),
            ("verify-email", "a valid signupId, then the same key not a UUID", Encoding.ASCII.GetBytes($$"""{"signupId":"{{guid}}","SIGNUPID":"x"}""")),
            ("verify-email", "a valid signupId, then the same key the empty UUID", Encoding.ASCII.GetBytes($$"""{"signupId":"{{guid}}","signupId":"00000000-0000-0000-0000-000000000000"}""")),
            ("publish-event", "an unregistered contract", "{\"messageType\":\"EventBackbone.Contracts.Signups.EmailVerified\",\"message\":{}}"u8.ToArray()),
            ("publish-event", "a runtime type", "{\"messageType\":\"System.String\",\"message\":\"x\"}"u8.ToArray()),
            ("publish-event", "messageType null", "{\"messageType\":null,\"message\":{}}"u8.ToArray()),
            ("publish-event", "message missing", "{\"messageType\":\"EventBackbone.Contracts.Payments.PaymentReceived\"}"u8.ToArray()),
            ("publish-event", "message a string", "{\"messageType\":\"EventBackbone.Contracts.Payments.PaymentReceived\",\"message\":\"x\"}"u8.ToArray()),
            ("publish-event", "an amount that overflows", Encoding.ASCII.GetBytes(Payment("\"amountMinor\":1e30"))),
            ("publish-event", "paidAt not a date", Encoding.ASCII.GetBytes(Payment("\"paidAt\":\"yesterday\""))),
            ("publish-event", "paidAt out of range", Encoding.ASCII.GetBytes(Payment("\"paidAt\":\"99999-01-01T00:00:00Z\""))),
            ("publish-event", "a valid message, then the same field null", Encoding.ASCII.GetBytes(Payment("\"provider\":\"stripe\",\"provider\":null"))),
            ("publish-event", "a valid message, then messageType again, unregistered", Encoding.ASCII.GetBytes(Payment("\"currency\":\"eur\"").Replace("}}", "},\"messageType\":\"EventBackbone.Contracts.Signups.EmailVerified\"}", StringComparison.Ordinal))),
            ("publish-event", "a nested message deeper than allowed", Encoding.ASCII.GetBytes($$"""{"messageType":"EventBackbone.Contracts.Payments.PaymentReceived","message":{{tooDeep}}}""")),
        ];
        foreach (var (command, name, body) in cases)
        {
            outcomes.ExpectRefused($"{command}: {name}", await PostCommandAsync(command, body), 400, 422);
        }

        // Idempotency keys the API must refuse, on an otherwise valid command.
        var valid = "{\"email\":\"idem@example.com\"}"u8.ToArray();
        foreach (var (name, key) in new[] { ("empty", ""), ("300 characters", new string('k', 300)), ("a control character", "a\u0001b"), ("Latin-1 bytes", "\u00E9t\u00E9"), ("a space", "a b") })
        {
            outcomes.ExpectRefused($"Idempotency-Key {name}", await PostCommandAsync("request-signup", valid, ("Idempotency-Key", key)), 400);
        }

        // Random JSON in the shape of each command, never valid (no '@' in emails, no UUIDs), seeded.
        var random = new Random(fixture.Seed);
        for (var i = 0; i < fixture.Iterations; i++)
        {
            var (command, body) = RandomCommand(random);
            outcomes.ExpectRefused($"random #{i} {command}: {Shorten(body)}", await PostCommandAsync(command, Encoding.UTF8.GetBytes(body)), 400, 422);
            if (i % 50 == 0)
            {
                var control = await PostCommandAsync("request-signup", Encoding.UTF8.GetBytes($$"""{"email":"control-{{i}}@example.com"}"""));
                outcomes.Expect($"control command #{i}", control, 202);
                if (control.Status == 202)
                {
                    commands.Add(HostileInputFixture.CommandId(control));
                }
            }
        }

        outcomes.AssertAll();
        await fixture.AssertSurvivedAsync(before, [], commands, $"command bodies, seed {fixture.Seed}");

        static string Payment(string replace)
        {
            var fields = new Dictionary<string, string>
            {
                ["paymentId"] = $"\"{Guid.NewGuid()}\"",
                ["provider"] = "\"stripe\"",
                ["externalId"] = "\"in_1\"",
                ["amountMinor"] = "100",
                ["currency"] = "\"eur\"",
                ["paidAt"] = "\"2026-01-01T00:00:00Z\"",
            };
            var name = replace[1..replace.IndexOf('"', 1)];
            fields[name] = replace[(replace.IndexOf(':') + 1)..];
            var message = string.Join(',', fields.Select(x => $"\"{x.Key}\":{x.Value}"));
            return "{\"messageType\":\"EventBackbone.Contracts.Payments.PaymentReceived\",\"message\":{" + message + "}}";
        }
    }

    private Task<HostileResponse> PostCommandAsync(string command, byte[] body, params (string, string)[] extra) =>
        HostileHttp.SendAsync(Server, Head($"/api/v1/commands/{command}",
            [("Authorization", $"Bearer {fixture.Token}"), ("Content-Type", "application/json"), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)), .. extra]), body);

    private byte[] Head(string target, params (string, string)[] headers) => HostileHttp.Head("POST", target, Server, headers);

    private byte[] ShopHead(byte[]? signedBody, bool chunked = false, long? contentLength = null)
    {
        var headers = new List<(string, string)> { ("Content-Type", "application/json") };
        if (chunked)
        {
            headers.Add(("Transfer-Encoding", "chunked"));
        }
        else if ((contentLength ?? signedBody?.Length) is { } length)
        {
            headers.Add(("Content-Length", length.ToString(CultureInfo.InvariantCulture)));
        }

        headers.AddRange(signedBody is null
            ? [("X-Shop-Signature", "sha256=" + new string('0', 64)), ("X-Shop-Delivery", Guid.NewGuid().ToString())]
            : HostileInputFixture.SignatureHeaders("shop", signedBody));
        return Head("/api/v1/webhooks/shop", [.. headers]);
    }

    /// <summary>One random, never correctly signed webhook request: which of its parts are broken is up to the dice.</summary>
    private (string Description, byte[] Head, byte[] Body) GarbageWebhook(Random random)
    {
        var description = new List<string>();
        var source = random.Next(6) switch
        {
            < 4 => Sources[random.Next(Sources.Length)],
            4 => "unknown-" + random.Next(1000).ToString(CultureInfo.InvariantCulture),
            _ => string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => $"%{random.Next(256):X2}")),
        };
        description.Add($"source {source}");

        byte[] body = random.Next(5) switch
        {
            0 => RandomBytes(random, random.Next(0, 4096)),
            1 => Encoding.UTF8.GetBytes(RandomJsonish(random, 0)),
            2 => [.. "{\"a\":\""u8, .. RandomBytes(random, random.Next(1, 64)), .. "\"}"u8],
            3 => [],
            _ => Encoding.UTF8.GetBytes($$"""{"valid":"json","n":{{random.Next()}}}"""),
        };
        description.Add($"{body.Length} byte body");

        var headers = new List<(string, string)>();
        var contentType = random.Next(7) switch
        {
            0 => null,
            1 => "text/plain",
            2 => "application/json; charset=" + RandomHeaderText(random, 20),
            3 => RandomHeaderText(random, random.Next(1, 200)),
            4 => "application/x+json",
            _ => "application/json",
        };
        if (contentType is not null)
        {
            headers.Add(("Content-Type", contentType));
        }

        description.Add($"content type {contentType ?? "(none)"}");
        if (random.Next(4) == 0)
        {
            headers.Add(("Transfer-Encoding", "chunked"));
            body = [.. Encoding.ASCII.GetBytes($"{body.Length:X}\r\n"), .. body, .. "\r\n0\r\n\r\n"u8];
            description.Add("chunked");
        }
        else
        {
            headers.Add(("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)));
        }

        var signatureHeader = random.Next(4) switch
        {
            0 => "X-Hub-Signature-256",
            1 => "X-Shop-Signature",
            2 => "Stripe-Signature",
            _ => "webhook-signature",
        };
        string[] signatures = random.Next(7) switch
        {
            0 => [],
            1 => ["sha256=" + Convert.ToHexStringLower(RandomBytes(random, 32))],
            // Signed correctly, but over other bytes than the body.
            2 => ["sha256=" + HostileInputFixture.Hex(HostileInputFixture.GitHubSecret, [.. body, 0x20])],
            3 => ["sha256=" + HostileInputFixture.Hex("wrong-secret", body)],
            4 => ["sha256=" + new string('f', random.Next(1000, 20_000))],
            5 => [RandomHeaderText(random, random.Next(1, 300)), RandomHeaderText(random, random.Next(1, 300))],
            _ => [$"t={DateTimeOffset.UtcNow.ToUnixTimeSeconds()},v1={Convert.ToHexStringLower(RandomBytes(random, 32))}", "v1," + Convert.ToBase64String(RandomBytes(random, 32))],
        };
        headers.AddRange(signatures.Select(value => (signatureHeader, value)));
        description.Add($"{signatures.Length} × {signatureHeader}");
        if (signatureHeader == "webhook-signature")
        {
            headers.Add(("webhook-id", RandomHeaderText(random, random.Next(1, 300))));
            headers.Add(("webhook-timestamp", random.Next(3) == 0 ? RandomHeaderText(random, 20) : DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)));
        }

        for (var noise = random.Next(0, 6); noise > 0; noise--)
        {
            headers.Add(($"X-{RandomToken(random)}", RandomHeaderText(random, random.Next(0, 500))));
        }

        return (string.Join(", ", description), HostileHttp.Head("POST", $"/api/v1/webhooks/{source}", Server, headers), body);
    }

    private static (string Command, string Body) RandomCommand(Random random)
    {
        var command = random.Next(3) switch
        {
            0 => "request-signup",
            1 => "verify-email",
            _ => "publish-event",
        };
        var fields = command switch
        {
            "request-signup" => new[] { "email", "displayName", "Email", random.Next(2) == 0 ? "extra" : "displayname" },
            "verify-email" => ["signupId", "SignupId", "signup_id"],
            _ => ["messageType", "message", "MessageType"],
        };
        var members = Enumerable.Range(0, random.Next(0, 5))
            .Select(_ => $"\"{fields[random.Next(fields.Length)]}\":{RandomJsonish(random, 0)}");
        return (command, "{" + string.Join(',', members) + "}");
    }

    /// <summary>JSON-like text: mostly valid JSON values of every kind, sometimes broken, never an email address or a UUID.</summary>
    private static string RandomJsonish(Random random, int depth) => random.Next(depth > 4 ? 6 : 9) switch
    {
        0 => "null",
        1 => random.Next(2) == 0 ? "true" : "false",
        2 => random.Next(4) switch
        {
            0 => "1e999999",
            1 => "-0.0000000000000000000000000001",
            2 => long.MaxValue.ToString(CultureInfo.InvariantCulture) + "0",
            _ => random.Next(int.MinValue, int.MaxValue).ToString(CultureInfo.InvariantCulture),
        },
        3 or 4 => "\"" + RandomJsonStringContent(random) + "\"",
        5 => random.Next(4) switch
        {
            0 => "{",
            1 => "\"unterminated",
            2 => "[1,,2]",
            _ => "'single'",
        },
        6 => "[" + string.Join(',', Enumerable.Range(0, random.Next(0, 5)).Select(_ => RandomJsonish(random, depth + 1))) + "]",
        _ => "{" + string.Join(',', Enumerable.Range(0, random.Next(0, 4)).Select(_ => $"\"{RandomToken(random)}\":{RandomJsonish(random, depth + 1)}")) + "}",
    };

    private static string RandomJsonStringContent(Random random)
    {
        var text = new StringBuilder();
        for (var i = random.Next(0, 40); i > 0; i--)
        {
            text.Append(random.Next(8) switch
            {
                0 => $"\\u{random.Next(0, 0x10000):x4}",
                1 => "\\ud800",
                2 => "\\\"",
                3 => ((char)random.Next(0x80, 0x2FFF)).ToString(),
                4 => " ",
                _ => ((char)random.Next('a', 'z' + 1)).ToString(),
            });
        }

        return text.ToString().Replace("@", "", StringComparison.Ordinal);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>A header value of any byte but CR and LF (those would end the header; they have their own cases).</summary>
    private static string RandomHeaderText(Random random, int length) =>
        new([.. Enumerable.Range(0, length).Select(_ => random.Next(10) switch
        {
            0 => (char)random.Next(0x01, 0x20) is var control and not ('\r' or '\n') ? control : '\t',
            1 => (char)random.Next(0x80, 0x100),
            _ => (char)random.Next(0x20, 0x7F),
        })]);

    private static string RandomToken(Random random) =>
        new([.. Enumerable.Range(0, random.Next(1, 20)).Select(_ => (char)random.Next('a', 'z' + 1))]);

    /// <summary>A JSON object of exactly <paramref name="length"/> bytes.</summary>
    private static byte[] JsonOfLength(int length)
    {
        const string prefix = "{\"pad\":\"";
        const string suffix = "\"}";
        return Encoding.ASCII.GetBytes(prefix + new string('p', length - prefix.Length - suffix.Length) + suffix);
    }

    private static async Task WriteChunkedAsync(Stream stream, byte[]? content, int chunkSize, CancellationToken token)
    {
        var chunk = new byte[chunkSize];
        var written = 0;
        while (content is null || written < content.Length)
        {
            var size = content is null ? chunkSize : Math.Min(chunkSize, content.Length - written);
            content?.AsSpan(written, size).CopyTo(chunk);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"{size:X}\r\n"), token);
            await stream.WriteAsync(chunk.AsMemory(0, size), token);
            await stream.WriteAsync("\r\n"u8.ToArray(), token);
            written += size;
        }

        await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), token);
    }

    private static async Task WriteZerosAsync(Stream stream, long length, CancellationToken token)
    {
        var chunk = new byte[64 * 1024];
        for (long written = 0; written < length; written += chunk.Length)
        {
            await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, length - written)), token);
        }
    }

    /// <summary>One byte per <paramref name="pause"/>: far below any minimum data rate.</summary>
    private static async Task TrickleAsync(Stream stream, byte[] content, TimeSpan pause, CancellationToken token)
    {
        foreach (var value in content)
        {
            await stream.WriteAsync(new[] { value }, token);
            await Task.Delay(pause, token);
        }
    }

    private static string Shorten(string text) => text.Length <= 120 ? text : $"{text[..100]}… ({text.Length} chars)";

    /// <summary>Collects every unexpected outcome of a pass, so one failure message lists them all, with the seed and the API's logs.</summary>
    private sealed class Outcomes(HostileInputFixture fixture, string test)
    {
        private readonly ConcurrentQueue<string> _failures = new();
        private int _count;

        /// <summary>Exactly <paramref name="status"/>.</summary>
        public void Expect(string name, HostileResponse response, int status)
        {
            Interlocked.Increment(ref _count);
            if (response.Status != status)
            {
                _failures.Enqueue($"{name}: expected {status}, got {response}");
            }
        }

        /// <summary>
        /// Refused: a 4xx (exactly one of <paramref name="statuses"/>, when given) or a connection the server closed —
        /// never a success, a server error or a hang.
        /// </summary>
        public void ExpectRefused(string name, HostileResponse response, params int[] statuses)
        {
            Interlocked.Increment(ref _count);
            var refused = response switch
            {
                { TimedOut: true } => false,
                { Status: null } => true,
                { Status: var status } => statuses.Length == 0 ? status is >= 400 and < 500 : statuses.Contains(status.Value),
            };
            if (!refused)
            {
                var expected = statuses.Length == 0 ? "a 4xx or a closed connection" : $"{string.Join(" or ", statuses)} or a closed connection";
                _failures.Enqueue($"{name}: expected {expected}, got {response}");
            }
        }

        public void AssertAll() =>
            Assert.True(_failures.IsEmpty,
                $"{_failures.Count} of {_count} cases of {test} went wrong (seed {fixture.Seed}; HOSTILE_INPUT_SEED={fixture.Seed} replays them):\n"
                + string.Join('\n', _failures) + $"\n{fixture.Api.Logs[^Math.Min(fixture.Api.Logs.Length, 20_000)..]}");
    }
}
