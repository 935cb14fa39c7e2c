using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>Model files of dense networks stay byte-identical, and files written before keep loading: a saved
/// 4-8(Tanh)-3(Softmax) network hashes to the SHA-256 pinned from main @ 186c08c, and the files checked in under
/// Fixtures/ (written then) load to the same spec and θ. A change to the file format must keep both true for dense
/// networks, or say in its commit why not.</summary>
public class ModelFileGoldenTests
{
    private static readonly NetworkSpec Spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    private static readonly Dictionary<string, string> Metadata = new() { ["written-by"] = "ModelFileGoldenTests" };

    private static string Fixture(string name, [CallerFilePath] string path = "") =>
        Path.Combine(Path.GetDirectoryName(path)!, "Fixtures", name);

    private static byte[] Saved<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var dir = new ModelDirectory();
        using var net = Network<T>.Create(Spec, seed: 1, Initialization.Xavier);
        ModelFile.Save(dir.File(), net, Metadata);
        return File.ReadAllBytes(dir.File());
    }

    [Theory]
    [InlineData("float", "dense-4-8-3.f32.safetensors", "b1f6c226ddc0b852bec0ac555747fb852f67534392fe9916b406ce406349d20a")]
    [InlineData("double", "dense-4-8-3.f64.safetensors", "f8ecedcdbc15bdd92d486ddd160d4415998b33687beaa25541221dcfd1e0e66a")]
    public void A_saved_dense_model_is_byte_identical_to_the_pinned_file(string type, string fixture, string sha256)
    {
        byte[] saved = type == "float" ? Saved<float>() : Saved<double>();
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(saved)));
        Assert.Equal(File.ReadAllBytes(Fixture(fixture)), saved);
    }

    [Theory]
    [InlineData("dense-4-8-3.f32.safetensors")]
    [InlineData("dense-4-8-3.f64.safetensors")]
    public void A_checked_in_model_file_loads_to_its_spec_parameters_and_metadata(string fixture)
    {
        var loaded = ModelFile.Load<double>(Fixture(fixture));
        Assert.Equal(Spec, loaded.Spec);
        Assert.Equal("4-8(Tanh)-3(Softmax) SoftmaxCrossEntropy", loaded.Spec.ToString());
        using var f32 = Network<float>.Create(Spec, seed: 1, Initialization.Xavier);
        using var f64 = Network<double>.Create(Spec, seed: 1, Initialization.Xavier);
        double[] expected = fixture.Contains(".f32.", StringComparison.Ordinal)
            ? [.. f32.Parameters.ToArray().Select(f => (double)f)]
            : f64.Parameters.ToArray();
        Assert.Equal(expected, loaded.Parameters);
        Assert.Equal(Metadata, loaded.Metadata);
    }
}
