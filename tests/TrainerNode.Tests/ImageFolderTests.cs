using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.TrainerNode.Tests;

/// <summary>
/// A user's own dataset as one folder of images per class: PNG and JPEG of any size written by Debian's
/// Pillow (an outside encoder), decoded, resized to 32×32, split with a fixed seed, identified by content.
/// </summary>
public sealed class ImageFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("nascluster-folder-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_folder_per_class_loads_resized_split_and_identified_by_its_content()
    {
        var dir = Path.Combine(_root, "shapes");
        PillowDataset.Write(dir, perClass: 20);
        var d = ImageFolder.Load(dir);
        Assert.Equal("folder", d.Kind);
        Assert.Equal(["disc", "square", "stripes"], d.ClassNames);
        Assert.Equal((3, 3), (d.Classes, d.Channels)); // some images are colour: RGB
        Assert.Equal((32, 32), (d.Train.Height, d.Train.Width));
        Assert.Equal((48, 6, 6), (d.Train.Count, d.Validation.Count, d.Test.Count));
        Assert.Equal(3, d.Train.Mean.Length);
        Assert.All(d.Train.Std, s => Assert.InRange(s, 0.05f, 0.6f));
        Assert.Equal(d.Train.Mean, d.Validation.Mean); // every split is normalised with the training split's statistics
        // The same images elsewhere are the same dataset; one changed image is another.
        var copy = Path.Combine(_root, "copy");
        CopyTree(dir, copy);
        Assert.Equal(d.Fingerprint, ImageFolder.Load(copy).Fingerprint);
        Assert.Equal(d.Validation.Labels, ImageFolder.Load(copy).Validation.Labels);
        File.Copy(Path.Combine(copy, "disc", "001.jpg"), Path.Combine(copy, "disc", "000.png"), overwrite: true);
        Assert.NotEqual(d.Fingerprint, ImageFolder.Load(copy).Fingerprint);
        // Through the general entry point, and as an experiment records it.
        var described = Datasets.Load(dir).Describe();
        Assert.Equal(("folder", Path.GetFullPath(dir), d.Fingerprint, 3, 3, 48, 6), (described.Kind, described.Source, described.ContentHash, described.Classes,
            described.Channels, described.TrainImages, described.ValidationImages));
    }

    [Fact]
    public void Grey_images_make_a_one_channel_dataset()
    {
        var dir = Path.Combine(_root, "grey");
        PillowDataset.Write(dir, perClass: 10, grey: true, classes: ["a", "b"]);
        var d = ImageFolder.Load(dir);
        Assert.Equal((2, 1), (d.Classes, d.Channels));
        Assert.Equal(32 * 32, d.Train.PixelsPerImage);
    }

    [Fact]
    public void Bad_datasets_are_one_clear_line_naming_the_problem()
    {
        string Error(Action setup, string name)
        {
            var dir = Path.Combine(_root, name);
            Directory.CreateDirectory(dir);
            setup();
            var e = Assert.ThrowsAny<NasInputException>(() => Datasets.Load(dir));
            Assert.DoesNotContain('\n', e.Message);
            return e.Message;
        }
        Assert.Contains("no dataset here", Error(() => { }, "empty"));
        Assert.Contains("a single class ('only')", Error(() => PillowDataset.Write(Path.Combine(_root, "one"), 10, classes: ["only"]), "one"));
        Assert.Contains("class 'b' has no images", Error(() =>
        {
            PillowDataset.Write(Path.Combine(_root, "hollow"), 12, classes: ["a"]);
            Directory.CreateDirectory(Path.Combine(_root, "hollow", "b"));
            File.WriteAllText(Path.Combine(_root, "hollow", "b", "notes.txt"), "no images here");
        }, "hollow"));
        var broken = Error(() =>
        {
            PillowDataset.Write(Path.Combine(_root, "broken"), 12, classes: ["a", "b"]);
            File.WriteAllText(Path.Combine(_root, "broken", "b", "zz.png"), "this is not a PNG");
        }, "broken");
        Assert.Contains("zz.png", broken);
        Assert.Contains("not an image this trainer can decode", broken);
        Assert.Contains("at least 20 are needed", Error(() => PillowDataset.Write(Path.Combine(_root, "few"), 4, classes: ["a", "b"]), "few"));
    }

    [Fact]
    public void A_recorded_dataset_is_found_by_content_where_it_was_or_where_the_node_keeps_it_and_never_another()
    {
        var dir = Path.Combine(_root, "shapes");
        PillowDataset.Write(dir, perClass: 8);
        var expected = ImageFolder.Load(dir).Describe();
        Assert.Equal(expected.ContentHash, Datasets.Resolve(expected, null).Fingerprint);
        // Moved: the node's --data finds it by its hash.
        var moved = Path.Combine(_root, "moved");
        Directory.Move(dir, moved);
        Assert.Equal(expected.ContentHash, Datasets.Resolve(expected, moved).Fingerprint);
        // Another dataset under the recorded path is refused, naming both hashes' places.
        PillowDataset.Write(dir, perClass: 12, classes: ["x", "y"]);
        var e = Assert.ThrowsAny<NasInputException>(() => Datasets.Resolve(expected, null));
        Assert.Contains($"the experiment's dataset (content hash {expected.ContentHash}, folder, 3 classes) is not here", e.Message);
        Assert.Contains("content hash", e.Message[(e.Message.IndexOf(':', StringComparison.Ordinal) + 1)..]);
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var d in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to, StringComparison.Ordinal));
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, f.Replace(from, to, StringComparison.Ordinal));
    }
}
