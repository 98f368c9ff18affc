using YamlDotNet.Core;

namespace EventBackbone.Deployment.Tests;

public sealed class YamlSpecs
{
    [Fact]
    public void Every_yaml_file_under_compose_parses()
    {
        var files = Repository.Files(ComposeFile.Folder, "*.yml").Concat(Repository.Files(ComposeFile.Folder, "*.yaml")).ToList();
        Assert.Contains(ComposeFile.RelativePath, files);
        Assert.Contains(files, file => file.StartsWith(KubernetesManifests.Folder + "/", StringComparison.Ordinal));

        var problems = new Problems();
        foreach (var file in files)
        {
            try
            {
                problems.Check(Yaml.LoadDocuments(file).Count > 0, $"{file} holds no YAML document.");
            }
            catch (YamlException invalid)
            {
                problems.Add($"{file} is not valid YAML: {invalid.Message} ({invalid.Start})");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_kubernetes_document_is_a_named_object_in_a_namespace_the_manifests_create()
    {
        var manifests = KubernetesManifests.Current;
        var namespaces = manifests.OfKind("Namespace").ToList();
        Assert.NotEmpty(namespaces);

        var problems = new Problems();
        foreach (var item in manifests.Objects)
        {
            problems.Check(item.Node.Text("apiVersion") is { Length: > 0 }, $"{item}: no apiVersion.");
            problems.Check(item.Kind.Length > 0, $"{item}: no kind.");
            problems.Check(item.Name.Length > 0, $"{item}: no metadata.name.");
            problems.Check(
                item.Kind == "Namespace" || namespaces.Any(ns => ns.Name == item.Namespace),
                $"{item}: in namespace '{item.Namespace}', which no manifest creates ({string.Join(", ", namespaces.Select(ns => ns.Name))}).");
        }

        problems.AssertNone();
    }
}
