using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Layers;

/// <summary>A random dense network with a <see cref="Scale"/> layer inserted before layer <see cref="Position"/> (0: first;
/// the depth: last, then with the quadratic cost), and scales drawn from <see cref="ScaleSeed"/>.</summary>
public sealed record ScaleCase(NetCase Net, int Position, int ScaleSeed) : INetCase
{
    public int Batch => Net.Batch;
    public double[] X(int salt = 0) => Dense.X(salt);
    public double[] Y(int salt = 0) => Dense.Y(salt);

    public int Depth => Net.Widths.Length - 1;
    public int ScaleLayer => Position;
    public NetCase Dense => Position == Depth ? Net with { Loss = LossKind.Quadratic } : Net;

    public NetworkSpec Spec
    {
        get
        {
            var layers = new List<Layer>();
            for (int l = 0; l < Depth; l++)
                layers.Add(new Dense(Net.Widths[l], Net.Widths[l + 1], l == Depth - 1 ? Net.Output : Net.Hidden[l]));
            layers.Insert(Position, new Scale(Net.Widths[Position]));
            return new NetworkSpec(layers, Dense.Loss);
        }
    }

    /// <summary>The network, Xavier-initialised, with its scales drawn from ±U(0.5, 1.5).</summary>
    public Network<double> Network()
    {
        var net = Network<double>.Create(Spec, Net.Seed, Initialization.Xavier);
        var rng = new SeededRandom(ScaleSeed);
        var s = net.Layout.SlotsOf(ScaleLayer)[0].Of(net.Parameters);
        for (int i = 0; i < s.Length; i++) s[i] = (rng.NextDouble() < 0.5 ? -1 : 1) * (0.5 + rng.NextDouble());
        return net;
    }

    public override string ToString() => $"{Spec}, batch {Net.Batch}, seed {Net.Seed}, scale seed {ScaleSeed}";
}

public static class ScaleArbitraries
{
    public static Arbitrary<ScaleCase> ScaleCase() =>
        (from net in NetArbitraries.Gen(maxDepth: 3, maxWidth: 8)
         from position in Gen.Choose(0, net.Widths.Length - 1)
         from seed in Gen.Choose(0, 1_000_000)
         select new ScaleCase(net, position, seed)).ToArbitrary();
}

/// <summary>The layer protocol proved with a kind the core has never heard of: <see cref="Scale"/> (test project only)
/// first, between and last in random dense networks passes the properties the dense network passes — ∂C/∂θ and every
/// layer's δ (∂C/∂z for dense layers, ∂C/∂y for the scale) against five-point finite differences, in double.</summary>
public class ScaleLayerProperties
{
    [Property(MaxTest = 150, Arbitrary = [typeof(ScaleArbitraries)])]
    public Property Gradient_equals_finite_differences(ScaleCase c) => NetworkProperties.GradientEqualsFiniteDifferences(c);

    /// <summary>δ of every dense layer (∂C/∂z) and of the scale (∂C/∂y) against finite differences, and BP3/BP4 of the
    /// dense layers against their sums (with the scale's output as aˡ⁻¹ of the layer after it).</summary>
    [Property(MaxTest = 150, Arbitrary = [typeof(ScaleArbitraries)])]
    public Property Every_layer_delta_equals_finite_differences(ScaleCase c) => NetworkProperties.DeltaIdentities(c);
}
