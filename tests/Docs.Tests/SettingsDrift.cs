namespace EventBackbone.Docs.Tests;

/// <summary>The two ways docs/configuration.md drifts from the code, each as one line per key that a reader can act on.</summary>
internal static class SettingsDrift
{
    public static IReadOnlyList<string> MissingFromTable(IReadOnlyList<SettingInCode> code, IReadOnlyList<DocumentedSetting> rows) =>
    [
        .. code
            .Where(setting => !rows.Any(row => row.Key == setting.Key))
            .Select(setting => $"`{setting.Key}` is read by the code ({setting.Where}) but has no row in {ConfigurationReference.RelativePath}"),
    ];

    public static IReadOnlyList<string> UnreadRows(IReadOnlyList<SettingInCode> code, IReadOnlyList<DocumentedSetting> rows) =>
    [
        .. rows
            .Where(row => !code.Any(setting => setting.Key == row.Key))
            .Select(row => $"{ConfigurationReference.RelativePath}:{row.Line} documents `{row.Written}`, which no code in src/ reads"),
    ];

    public static IReadOnlyList<string> DuplicateRows(IReadOnlyList<DocumentedSetting> rows) =>
    [
        .. rows
            .GroupBy(row => row.Key, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => $"`{g.First().Written}` has {g.Count()} rows in {ConfigurationReference.RelativePath} (lines {string.Join(", ", g.Select(x => x.Line))})"),
    ];
}
