using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Caching.Memory;

namespace EventBackbone.Console.SignIn;

/// <summary>
/// Keeps each sign-in's ticket (with the operator's access token) in this process; the cookie carries only a random
/// key. A token in the cookie would leave the server with every request and outlive a sign-out in a copied cookie.
/// One process only: several console instances need a shared store (README, "Operators' console").
/// </summary>
internal sealed class InMemoryTicketStore : ITicketStore, IDisposable
{
    private readonly MemoryCache _tickets = new(new MemoryCacheOptions());

    public Task<string> StoreAsync(AuthenticationTicket ticket)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Remember(key, ticket);
        return Task.FromResult(key);
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket)
    {
        Remember(key, ticket);
        return Task.CompletedTask;
    }

    public Task<AuthenticationTicket?> RetrieveAsync(string key) =>
        Task.FromResult(_tickets.TryGetValue(key, out AuthenticationTicket? ticket) ? ticket : null);

    public Task RemoveAsync(string key)
    {
        _tickets.Remove(key);
        return Task.CompletedTask;
    }

    public void Dispose() => _tickets.Dispose();

    private void Remember(string key, AuthenticationTicket ticket)
    {
        var expires = ticket.Properties.ExpiresUtc ?? DateTimeOffset.UtcNow.AddHours(8);
        _tickets.Set(key, ticket, new MemoryCacheEntryOptions { AbsoluteExpiration = expires });
    }
}
