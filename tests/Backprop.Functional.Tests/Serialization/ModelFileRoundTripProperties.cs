using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Serialization;

public sealed class ModelFileRoundTripProperties : IDisposable
{
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static Arbitrary<NetCase> NetCase() => ModelFiles.Specs();

    private static Dictionary<string, string> Metadata(int seed) => new()
    {
        ["epochs"] = (seed % 50).ToString(),
        ["accuracy"] = "0.9731",
        ["note"] = $"seed {seed}: ünïcödé ✓, \"quotes\", back\\slash, tab\t, newline\n",
        [""] = "empty key",
    };

    [Property(MaxTest = 100, Arbitrary = [typeof(ModelFileRoundTripProperties)])]
    public Property Load_ofSavedFloatModel_returnsSameSpecBitIdenticalParametersAndMetadata(NetCase c)
    {
        string path = _dir.NewFile();
        float[] theta = ModelFiles.Floats(c.Spec.Layout.Count, c.Seed);
        var metadata = Metadata(c.Seed);

        ModelFile.Save<float>(path, c.Spec, theta, metadata);
        var loaded = ModelFile.Load(path);

        return (loaded.Spec == c.Spec).Label($"spec {loaded.Spec} != {c.Spec}")
            .And(BitsEqual(theta, loaded.Parameters).Label("parameters differ bitwise"))
            .And(MetadataEqual(metadata, loaded.Metadata).Label("metadata differs"));
    }

    [Property(MaxTest = 100, Arbitrary = [typeof(ModelFileRoundTripProperties)])]
    public Property Load_ofSavedDoubleModel_returnsSameSpecBitIdenticalParametersAndMetadata(NetCase c)
    {
        string path = _dir.NewFile();
        double[] theta = ModelFiles.Doubles(c.Spec.Layout.Count, c.Seed);
        var metadata = Metadata(c.Seed);

        ModelFile.Save<double>(path, c.Spec, theta, metadata);
        var loaded = ModelFile.Load<double>(path);

        return (loaded.Spec == c.Spec).Label($"spec {loaded.Spec} != {c.Spec}")
            .And(BitsEqual(theta, loaded.Parameters).Label("parameters differ bitwise"))
            .And(MetadataEqual(metadata, loaded.Metadata).Label("metadata differs"));
    }

    [Fact]
    public void Load_asDoubleOfFloatFile_widensExactly()
    {
        string path = _dir.NewFile();
        float[] theta = ModelFiles.SaveSmall(path);

        var loaded = ModelFile.Load<double>(path);

        Assert.Equal(theta.Select(f => (double)f), loaded.Parameters);
    }

    [Fact]
    public void Load_asFloatOfDoubleFile_roundsToNearest()
    {
        string path = _dir.NewFile();
        double[] theta = [.. Enumerable.Range(0, ModelFiles.Small.Layout.Count).Select(i => 0.1 * i - 1.3)];
        ModelFile.Save<double>(path, ModelFiles.Small, theta);

        var loaded = ModelFile.Load(path);

        Assert.Equal(theta.Select(d => (float)d), loaded.Parameters);
    }

    [Fact]
    public void Save_ofNetwork_loadsIntoNetworkWithSameOutputs()
    {
        string path = _dir.NewFile();
        using var net = Network<float>.Create(ModelFiles.Small, seed: 3);
        ModelFile.Save(path, net, new Dictionary<string, string> { ["epochs"] = "5" });

        using var again = ModelFile.Load(path).ToNetwork();
        using var ws1 = net.CreateWorkspace(batch: 1);
        using var ws2 = again.CreateWorkspace(batch: 1);
        float[] x = [0.5f, -1f, 2f];

        Assert.Equal(net.Forward(x, ws1).ToArray(), again.Forward(x, ws2).ToArray());
        Assert.Equal("5", ModelFile.Load(path).Metadata["epochs"]);
    }

    [Fact]
    public void Save_twice_writesIdenticalBytes()
    {
        string a = _dir.NewFile(), b = _dir.NewFile();
        var metadata = new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" };
        ModelFiles.SaveSmall(a, metadata);
        ModelFiles.SaveSmall(b, new Dictionary<string, string> { ["a"] = "2", ["z"] = "1" });

        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    private static bool BitsEqual(float[] x, float[] y) =>
        x.Length == y.Length && x.Select(BitConverter.SingleToInt32Bits).SequenceEqual(y.Select(BitConverter.SingleToInt32Bits));

    private static bool BitsEqual(double[] x, double[] y) =>
        x.Length == y.Length && x.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(y.Select(BitConverter.DoubleToInt64Bits));

    private static bool MetadataEqual(Dictionary<string, string> expected, IReadOnlyDictionary<string, string> actual) =>
        expected.Count == actual.Count && expected.All(kv => actual.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
