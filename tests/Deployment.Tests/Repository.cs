namespace EventBackbone.Deployment.Tests;

/// <summary>The repository as files on disk, found by walking up from the test assembly to <c>EventBackbone.sln</c>.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string FullPath(string relative) => Path.GetFullPath(Path.Combine(Root, relative));

    /// <summary>A path as the deployment files write it: relative to the root, with forward slashes.</summary>
    public static string Relative(string fullPath) => Path.GetRelativePath(Root, fullPath).Replace('\\', '/');

    public static string ReadText(string relative) => File.ReadAllText(FullPath(relative));

    public static bool Exists(string relative) => File.Exists(FullPath(relative)) || Directory.Exists(FullPath(relative));

    /// <summary>Files below a folder, without build output (a stale copy in bin/ must not make a check pass).</summary>
    public static IEnumerable<string> Files(string relativeFolder, string pattern) =>
        Directory.Exists(FullPath(relativeFolder))
            ? Directory.EnumerateFiles(FullPath(relativeFolder), pattern, SearchOption.AllDirectories)
                .Select(Relative)
                .Where(path => !path.Split('/').Any(segment => segment is "bin" or "obj"))
                .Order(StringComparer.Ordinal)
            : [];

    private static string FindRoot()
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
