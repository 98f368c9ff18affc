using System.Text.Json;

namespace EventBackbone.Sagas.Signups;

public sealed record SignupHistoryEntry(DateTimeOffset At, string What);

/// <summary>The signup's history as a JSON array in its row: read whole, appended to, never queried by its contents.</summary>
public static class SignupHistory
{
    /// <summary>A duplicate or stray event must not grow a row without limit.</summary>
    private const int MaxEntries = 100;

    public static void Append(SignupState state, DateTimeOffset at, string what)
    {
        var entries = Read(state);
        if (entries.Count < MaxEntries)
        {
            entries.Add(new SignupHistoryEntry(at, what));
        }

        state.History = JsonSerializer.Serialize(entries, JsonSerializerOptions.Web);
    }

    public static List<SignupHistoryEntry> Read(SignupState state) =>
        JsonSerializer.Deserialize<List<SignupHistoryEntry>>(state.History, JsonSerializerOptions.Web) ?? [];
}
