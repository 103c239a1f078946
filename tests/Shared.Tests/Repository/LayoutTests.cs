using System.Runtime.CompilerServices;
using System.Xml.Linq;

namespace NasCluster.Shared.Tests.Repository;

/// <summary>
/// The dependency arrows of the design (DEVELOPERS.md, "Layout"), checked on the project files themselves:
/// a reference against them fails here instead of slowly blurring what each project is for.
/// </summary>
public sealed class LayoutTests
{
    private static string Root([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../../.."));

    private static XDocument Project(string path) => XDocument.Load(Path.Combine(Root(), path));

    private static List<string> ProjectReferences(string path) => Project(path).Descendants("ProjectReference")
        .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value)).Order(StringComparer.Ordinal).ToList();

    private static List<string> Packages(string path) => Project(path).Descendants("PackageReference")
        .Select(e => e.Attribute("Include")!.Value).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public void Projects_reference_each_other_only_along_the_designed_arrows()
    {
        Assert.Empty(ProjectReferences("src/Shared/NasCluster.Shared.csproj"));
        Assert.Equal(["NasCluster.Shared"], ProjectReferences("src/NodeHosting/NasCluster.NodeHosting.csproj"));
        Assert.Equal(["NasCluster.NodeHosting", "NasCluster.Shared"], ProjectReferences("src/EvaluatorNode/NasCluster.EvaluatorNode.csproj"));
        Assert.Equal(["NasCluster.NodeHosting", "NasCluster.Shared"], ProjectReferences("src/TrainerNode/NasCluster.TrainerNode.csproj"));
        Assert.Equal(["NasCluster.EvaluatorNode", "NasCluster.NodeHosting", "NasCluster.Shared", "NasCluster.TrainerNode"],
            ProjectReferences("src/Coordinator/NasCluster.Coordinator.csproj"));
    }

    [Fact]
    public void The_domain_project_holds_no_actors_and_needs_nothing_of_hosting()
    {
        // Akka: the serializer's base class only; OnnxSharp (+ its Google.Protobuf): the ONNX schema for Onnx/.
        Assert.Equal(["Akka", "Google.Protobuf", "OnnxSharp", "System.IO.Hashing"], Packages("src/Shared/NasCluster.Shared.csproj"));
        var actors = typeof(NasCluster.Shared.Protocol.NasSerializer).Assembly.GetTypes().Where(t => typeof(Akka.Actor.ActorBase).IsAssignableFrom(t)).ToList();
        Assert.Empty(actors);
    }

    [Fact]
    public void Every_central_package_version_is_referenced_by_some_project()
    {
        var versions = Project("Directory.Packages.props").Descendants("PackageVersion").Select(e => e.Attribute("Include")!.Value).ToList();
        var referenced = Directory.EnumerateFiles(Root(), "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(p => XDocument.Load(p).Descendants("PackageReference").Select(e => e.Attribute("Include")!.Value)).ToHashSet(StringComparer.Ordinal);
        var unreferenced = versions.Except(referenced, StringComparer.Ordinal).ToList();
        Assert.Empty(unreferenced);
        Assert.Equal(versions.Count, versions.Distinct(StringComparer.Ordinal).Count());
    }
}
