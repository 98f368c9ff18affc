using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace EventBackbone.Deployment.Tests;

public sealed partial class DockerfileSpecs
{
    /// <summary>Root files that change how every project builds; an image built without them is not what CI checks.</summary>
    private static readonly string[] InheritedBuildFiles =
        ["global.json", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "NuGet.config", ".editorconfig"];

    [Fact]
    public void Every_path_a_dockerfile_copies_or_builds_exists()
    {
        var problems = new Problems();
        foreach (var dockerfile in Dockerfiles())
        {
            foreach (var source in dockerfile.ContextSources.Concat(dockerfile.ProjectFilesRun))
            {
                problems.Check(Repository.Exists(source), $"{dockerfile.RelativePath}: {source} does not exist in the repository.");
            }

            problems.Check(dockerfile.PublishedProject is not null, $"{dockerfile.RelativePath}: no `dotnet publish <project>.csproj`.");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_dockerfile_copies_every_project_its_host_references_and_the_shared_build_files()
    {
        var problems = new Problems();
        foreach (var dockerfile in Dockerfiles())
        {
            if (dockerfile.PublishedProject is not { } published || !Repository.Exists(published))
            {
                continue; // reported by the test above
            }

            var copied = dockerfile.ContextSources.Select(source => source.TrimEnd('/')).ToList();
            bool Copies(string path) => copied.Any(source => source is "." || path == source || path.StartsWith(source + "/", StringComparison.Ordinal));

            foreach (var project in HostProject.Load(published).Closure)
            {
                problems.Check(Copies(project.Folder), $"{dockerfile.RelativePath}: {project.RelativePath} is built but {project.Folder}/ is not copied.");
            }

            foreach (var file in InheritedBuildFiles.Where(Repository.Exists))
            {
                problems.Check(Copies(file), $"{dockerfile.RelativePath}: does not copy {file}, so the image builds differently from CI.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_entrypoint_runs_the_assembly_its_project_builds()
    {
        var problems = new Problems();
        foreach (var dockerfile in Dockerfiles())
        {
            if (dockerfile.PublishedProject is not { } published || !Repository.Exists(published))
            {
                continue;
            }

            var expected = new[] { "dotnet", HostProject.Load(published).AssemblyName + ".dll" };
            problems.Check(
                dockerfile.Entrypoint is { } entrypoint && entrypoint.SequenceEqual(expected, StringComparer.Ordinal),
                $"{dockerfile.RelativePath}: ENTRYPOINT is {Show(dockerfile.Entrypoint)}, but {published} builds {expected[1]}: expected {Show(expected)}.");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_image_builds_with_the_sdk_and_runs_on_the_runtime_of_its_target_framework_as_an_unprivileged_user()
    {
        var problems = new Problems();
        foreach (var dockerfile in Dockerfiles())
        {
            if (dockerfile.PublishedProject is not { } published || !Repository.Exists(published))
            {
                continue;
            }

            var version = TargetFrameworkVersion(HostProject.Load(published));
            var images = dockerfile.BaseImages;
            problems.Check(
                images.Count >= 2 && images[0] == $"mcr.microsoft.com/dotnet/sdk:{version}",
                $"{dockerfile.RelativePath}: builds on {images.FirstOrDefault()}, expected mcr.microsoft.com/dotnet/sdk:{version} (multi-stage).");
            problems.Check(
                images.Count >= 2 && images[^1] == $"mcr.microsoft.com/dotnet/aspnet:{version}",
                $"{dockerfile.RelativePath}: runs on {images.LastOrDefault()}, expected mcr.microsoft.com/dotnet/aspnet:{version}.");
            // The .NET images' own unprivileged user; anything else (or nothing: root) is a finding.
            problems.Check(
                dockerfile.User is "$APP_UID" or "${APP_UID}" or "app",
                $"{dockerfile.RelativePath}: runs as '{dockerfile.User ?? "root"}', not as the image's unprivileged user ($APP_UID).");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_dockerfile_keeps_local_build_output_out_of_its_context()
    {
        var problems = new Problems();
        foreach (var dockerfile in Dockerfiles())
        {
            if (!Repository.Exists(dockerfile.IgnoreFile))
            {
                problems.Add($"{dockerfile.RelativePath}: no {dockerfile.IgnoreFile}; a local build's bin/ and obj/ would be copied into the image's build.");
                continue;
            }

            var patterns = Repository.ReadText(dockerfile.IgnoreFile).Split('\n').Select(line => line.Trim()).ToHashSet(StringComparer.Ordinal);
            foreach (var folder in new[] { "bin", "obj" })
            {
                problems.Check(
                    patterns.Contains($"**/{folder}") || patterns.Contains($"**/{folder}/"),
                    $"{dockerfile.IgnoreFile}: does not exclude **/{folder}/.");
            }
        }

        problems.AssertNone();
    }

    /// <summary>Every Dockerfile compose builds, and every one under compose/ (an unused one is still checked).</summary>
    private static List<Dockerfile> Dockerfiles()
    {
        var compose = ComposeFile.Current;
        var paths = compose.HostServices.Select(service => compose.DockerfilePath(service)!)
            .Concat(Repository.Files(ComposeFile.Folder, "*Dockerfile"))
            .Where(Repository.Exists)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(paths);
        return [.. paths.Select(Dockerfile.Load)];
    }

    /// <summary>"10.0" for net10.0: the project's TargetFramework, or the one Directory.Build.props gives every project.</summary>
    private static string TargetFrameworkVersion(HostProject project)
    {
        var framework = new[] { project.RelativePath, "Directory.Build.props" }
            .Select(path => XDocument.Parse(Repository.ReadText(path)).Descendants("TargetFramework").Select(x => x.Value.Trim()).FirstOrDefault())
            .FirstOrDefault(value => value is not null);
        var match = TargetFramework().Match(framework ?? "");
        Assert.True(match.Success, $"Cannot read the target framework of {project.RelativePath} ('{framework}').");
        return match.Groups["version"].Value;
    }

    private static string Show(IEnumerable<string>? values) =>
        values is null ? "not an exec-form array" : $"[{string.Join(", ", values.Select(x => $"\"{x}\""))}]";

    [GeneratedRegex(@"^net(?<version>\d+\.\d+)$")]
    private static partial Regex TargetFramework();
}
