using Xunit;

namespace Backprop.Functional.Tests.Docs;

/// <summary>The README's example, verbatim apart from the output, so it cannot rot.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void Readme_example_computes_a_gradient_that_passes_the_gradient_check()
    {
        var spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, seed: 1, Initialization.Xavier);
        using var ws = net.CreateWorkspace(batch: 2);
        using var grad = net.CreateGradient();

        double[] x = [0.1, -0.2, 0.3, 0.4,   1.0, 0.5, -0.5, 0.0];
        double[] y = [0, 1, 0,               1, 0, 0];
        double cost = net.ValueAndGradient(x, y, ws, grad.Span);

        var lines = new List<string>();
        foreach (var slot in net.Layout.Slots)
            lines.Add($"{slot.Name} {slot.Shape}: |g|₁ = {grad[slot].ToArray().Sum(Math.Abs):G4}");

        var report = GradientCheck.Run(net, x, y, new GradientCheckOptions(Stencil: FiniteDifference.Central));
        Assert.True(cost > 0 && double.IsFinite(cost));
        Assert.Equal(["layers.0.weight [8 × 4]", "layers.0.bias [8]", "layers.1.weight [3 × 8]", "layers.1.bias [3]"],
            lines.Select(l => l[..l.IndexOf(':')]));
        Assert.Equal(67, report.ParametersChecked);
        Assert.Equal(134, report.LossEvaluations);
        Assert.True(report.MaxRelativeError < 1e-6, report.ToString());
    }
}
