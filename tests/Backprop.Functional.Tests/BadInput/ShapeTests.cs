using Xunit;

namespace Backprop.Functional.Tests.BadInput;

/// <summary>Mismatched sizes throw ArgumentException naming both shapes; NaN and infinity are reported with where
/// they are, never trained on.</summary>
public class ShapeTests
{
    private static readonly NetworkSpec Spec = NetworkSpec.Mlp([4, 3, 2], ActivationKind.Tanh, ActivationKind.Sigmoid, LossKind.CrossEntropy);

    [Fact]
    public void NetworkSpec_ThrowsForLayersThatDoNotChain()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new NetworkSpec([new Dense(4, 3), new Dense(5, 2)], LossKind.Quadratic));
        Assert.Contains("layer 1 (Dense) takes [batch × 5] but layer 0 (Dense) gives [batch × 3]", e.Message);
    }

    [Fact]
    public void NetworkSpec_ThrowsForLossThatDoesNotFitOutput()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            NetworkSpec.Mlp([4, 2], ActivationKind.ReLU, ActivationKind.ReLU, LossKind.SoftmaxCrossEntropy));
        Assert.Contains("Softmax", e.Message);
    }

    [Fact]
    public void Dense_ThrowsForNonPositiveSizes() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dense(0, 3));

    [Fact]
    public void Forward_ThrowsForInputWidthMismatch()
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = net.CreateWorkspace(2);
        var e = Assert.Throws<ArgumentException>(() => net.Forward(new double[7], ws));
        Assert.Contains("7", e.Message);
        Assert.Contains("width 4", e.Message);
    }

    [Fact]
    public void Forward_ThrowsForBatchLargerThanWorkspace()
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = net.CreateWorkspace(2);
        var e = Assert.Throws<ArgumentException>(() => net.Forward(new double[12], ws));
        Assert.Contains("3 rows", e.Message);
        Assert.Contains("[2 ×", e.Message);
    }

    [Fact]
    public void Backward_ThrowsForTargetWidthMismatch()
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = net.CreateWorkspace(2);
        using var g = net.CreateGradient();
        var e = Assert.Throws<ArgumentException>(() => net.ValueAndGradient(new double[8], new double[6], ws, g.Span));
        Assert.Contains("targets has 6", e.Message);
        Assert.Contains("[2 × 2]", e.Message);
    }

    [Fact]
    public void Backward_ThrowsForGradientLengthMismatch()
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = net.CreateWorkspace(2);
        var e = Assert.Throws<ArgumentException>(() => net.ValueAndGradient(new double[8], new double[4], ws, new double[5]));
        Assert.Contains("gradient has 5", e.Message);
        Assert.Contains($"theta has {Spec.Layout.Count}", e.Message);
    }

    [Fact]
    public void Forward_ThrowsForAnEmptyBatch()
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = net.CreateWorkspace(2);
        var e = Assert.Throws<ArgumentException>(() => net.Forward([], ws));
        Assert.Contains("[4]", e.Message);
    }

    [Fact]
    public void Forward_ThrowsForWorkspaceOfAnotherNetwork()
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = new Workspace<double>([new Dense(5, 2)], 2);
        Assert.Throws<ArgumentException>(() => net.Forward(new double[8], ws));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Forward_ReportsNonFiniteInputWithSampleAndFeature(double bad)
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = net.CreateWorkspace(2);
        var x = new double[8];
        x[6] = bad;   // sample 1, feature 2
        var e = Assert.Throws<ArgumentException>(() => net.Forward(x, ws));
        Assert.Contains("sample 1, feature 2", e.Message);
    }

    [Fact]
    public void Backward_ReportsNonFiniteTargets()
    {
        using var net = Network<double>.Create(Spec, 1);
        using var ws = net.CreateWorkspace(2);
        using var g = net.CreateGradient();
        var y = new double[4];
        y[3] = double.NaN;
        var e = Assert.Throws<ArgumentException>(() => net.ValueAndGradient(new double[8], y, ws, g.Span));
        Assert.Contains("targets", e.Message);
        Assert.Contains("sample 1, feature 1", e.Message);
    }

    [Fact]
    public void Equations_ThrowForMismatchedShapes()
    {
        Assert.Throws<ArgumentException>(() => Equations.BiasGradient<double>(new double[7], new double[3]));
        var e = Assert.Throws<ArgumentException>(() => Equations.WeightGradient<double>(new double[6], new double[5], new double[6], 2, 3));
        Assert.Contains("aPrevious has 5", e.Message);
        Assert.Contains("[2 × 2]", e.Message);
        Assert.Throws<ArgumentException>(() => Equations.HiddenError<Tanh, double>(new double[5], new double[4], new double[4], new double[4], new double[4], 2, 2));
        Assert.Throws<ArgumentException>(() => Equations.OutputError<Sigmoid, double>(new double[3], new double[4], new double[4], new double[4], 2));
        Assert.Throws<ArgumentException>(() => DenseKernel.Forward<ReLU, double>(new double[7], new double[4], new double[2], new double[2], 2, 2));
    }
}
