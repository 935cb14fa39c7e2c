using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using Backprop.Functional.Testing;
using Backprop.Functional.Tests.Layers;
using Backprop.Functional.Tests.Optimizers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Kit;

/// <summary>The property-test kit (Backprop.Functional.Testing) itself: each ready property passes on correct code and
/// fails, with a message that says what, where and with which numbers, on code broken on purpose.</summary>
public class KitTests
{
    /// <summary>Runs <paramref name="property"/> as a test runner would and returns FsCheck's failure report.</summary>
    private static string Failure(Property property, int maxTest = 100)
    {
        var e = Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure.WithMaxTest(maxTest), property));
        return e.Message;
    }

    [Property(MaxTest = 300)]
    public Property Swish_passes() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<Swish>();

    /// <summary>The README's example: σ′ without the product rule fails at the first point, shrinks to a round z and
    /// names the member, the point and both numbers.</summary>
    [Fact]
    public void Activation_with_a_wrong_derivative_fails_with_the_point_and_both_numbers()
    {
        string message = Failure(Testing.ActivationProperties.DerivativeEqualsFiniteDifference<Readme.Swish>());
        Assert.Contains("Falsifiable", message, StringComparison.Ordinal);
        Assert.Matches(@"Swish\.Derivative\(z, a\) at z = -?[0-9.]+: [-0-9.E]+, but the finite difference of Swish\.Value is [-0-9.E]+ \(relative error [0-9.]+E[-+][0-9]+ > 1E-006\)", message);
        Assert.Matches(@"Shrunk:\s+z = \[-?[0-9](\.[0-9])?\]", message);   // one point, rounded
    }

    [Fact]
    public void Activation_whose_Backward_disagrees_with_its_Derivative_fails_at_the_element()
    {
        string message = Failure(Testing.ActivationProperties.DerivativeEqualsFiniteDifference<SwishWrongBackward>(), maxTest: 200);
        Assert.Matches(@"SwishWrongBackward\.Backward at z\[[0-9]+\] = [-0-9.]+ \(of [0-9]+\): [-0-9.E]+, but u·Derivative gives [-0-9.E]+", message);
    }

    [Property(MaxTest = 100)]
    public Property SignSgd_update_equals_its_formula() =>
        TransformProperties.UpdateEqualsFormula(new SignSgd(0.1) { Record = false }, s => s.Theta -= s.LearningRate * Math.Sign(s.G));

    /// <summary>The README's example: torch's momentum, b ← μb + g, θ ← θ − ηb.</summary>
    [Property(MaxTest = 100)]
    public Property Momentum_update_equals_its_formula() => TransformProperties.UpdateEqualsFormula(new Momentum(0.1, 0.9),
        s => { s.Moments[0] = 0.9 * s.Moments[0] + s.G; s.Theta -= s.LearningRate * s.Moments[0]; });

    /// <summary>Adam (three moments with AMSGrad) against torch's formula, written here element by element.</summary>
    [Property(MaxTest = 100)]
    public Property Adam_update_equals_its_formula() =>
        TransformProperties.UpdateEqualsFormula(new Adam(0.01, 0.8, 0.9, 1e-3, Amsgrad: true, WeightDecay: 0.1), AdamFormula);

    /// <summary>A run found at 50× the cases: update 2's first moment m ← 0.8m + 0.2g cancels (0.32 − 0.32 = 1.67·10⁻⁷);
    /// the transform and the formula round it 5.5·10⁻¹⁷ apart, 3.3·10⁻¹⁰ of the result but 3·10⁻¹⁷ of the terms.</summary>
    [Fact]
    public void Adam_update_whose_first_moment_cancels_equals_its_formula() =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(1), TransformProperties.UpdateEqualsFormula(
            new Adam(0.01, 0.8, 0.9, 1e-3, Amsgrad: true, WeightDecay: 0.1), AdamFormula, new TransformCase(22, 2, 231291)));

    private static void AdamFormula(ElementStep s)
    {
        double g = s.G + 0.1 * s.Theta;
        s.Moments[0] = 0.8 * s.Moments[0] + 0.2 * g;
        s.Moments[1] = 0.9 * s.Moments[1] + 0.1 * g * g;
        s.Moments[2] = Math.Max(s.Moments[2], s.Moments[1]);
        double mHat = s.Moments[0] / (1 - Math.Pow(0.8, s.Step)), vHat = s.Moments[2] / (1 - Math.Pow(0.9, s.Step));
        s.Theta -= s.LearningRate * mHat / (Math.Sqrt(vHat) + 1e-3);
    }

    /// <summary>A non-element-wise transform through the vector form: g ← g·c/(‖g‖ + 10⁻⁶) when ‖g‖ &gt; c (torch's rule; the kit caught this formula without the 10⁻⁶).</summary>
    [Property(MaxTest = 100)]
    public Property ClipByGlobalNorm_update_equals_its_formula() =>
        TransformProperties.UpdateEqualsVectorFormula(new ClipByGlobalNorm(1.5), s =>
        {
            double norm = Math.Sqrt(s.G.Sum(v => v * v));
            if (norm > 1.5) for (int i = 0; i < s.G.Length; i++) s.G[i] *= 1.5 / (norm + 1e-6);
        });

    [Fact]
    public void Transform_formula_that_disagrees_fails_with_the_update_the_element_and_what_went_in()
    {
        string message = Failure(TransformProperties.UpdateEqualsFormula(new SignSgd(0.1) { Record = false }, s => s.Theta -= s.LearningRate * s.G));
        Assert.Matches(@"SignSgd update 1 of 1 \(t = 1\), θ\[0\]: transform gives [-0-9.E]+, formula [-0-9.E]+ \(relative error [0-9.]+E[-+][0-9]+ > 1E-010\); before: θ [-0-9.E]+, g [-0-9.E]+, η 0\.1", message);
        Assert.Contains("θ of 1, 1 update, seed", message, StringComparison.Ordinal);   // shrunk to one element, one update
    }

    [Fact]
    public void Transform_that_forgets_a_moment_fails_naming_the_moment()
    {
        // Momentum (torch form) whose formula claims the buffer is not kept: the moment comparison catches it.
        string message = Failure(TransformProperties.UpdateEqualsFormula(new Momentum(0.1, 0.9), s => s.Theta -= s.LearningRate * s.G));
        Assert.Contains("Momentum update", message, StringComparison.Ordinal);
        Assert.Contains("moment 0[0]", message, StringComparison.Ordinal);
    }

    /// <summary>Your own network through the one-line overloads, with a layer kind of its own between dense layers.</summary>
    [Property(MaxTest = 30)]
    public Property Own_network_with_a_custom_layer_passes_both() =>
        NetworkProperties.GradientEqualsFiniteDifferences(Spec(new Scale(4)))
            .And(NetworkProperties.DeltaIdentities(Spec(new Scale(4))));

    [Fact]
    public void Layer_with_a_wrong_backward_fails_the_gradient_at_the_tensor_before_it()
    {
        string message = Failure(NetworkProperties.GradientEqualsFiniteDifferences(new BrokenCase(2, 3)));
        Assert.Matches(@"∂C/∂θ ≠ finite differences at layers\.0\.(weight\[[0-9]+, [0-9]+\]|bias\[[0-9]+\]): backprop [-0-9.E]+, finite difference [-0-9.E]+, relative error [0-9.]+E[-+][0-9]+ > 1E-006", message);
    }

    [Fact]
    public void Layer_with_a_wrong_backward_fails_BP2_at_the_layer_before_it_and_says_which_row_and_unit()
    {
        string message = Failure(NetworkProperties.DeltaIdentities(new BrokenCase(2, 3)));
        Assert.Matches(@"BP2 δˡ = \(\(Wˡ⁺¹\)ᵀδˡ⁺¹\) ⊙ σ′\(zˡ\) fails at layer 0 \(3-4\(Tanh\)\), row [01], unit [0-3]: backprop δ [-0-9.E]+, finite difference of C [-0-9.E]+", message);
        Assert.DoesNotContain("BP3", message, StringComparison.Ordinal);   // the sums hold: δ is wrong, not the gradient of it
    }

    [Fact]
    public void Generated_cases_print_as_the_network_batch_and_seed()
    {
        var c = new NetCase([1, 1], [ActivationKind.Identity], ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, 1, 7);
        Assert.Equal("1-1(Softmax) SoftmaxCrossEntropy, batch 1, seed 7", c.ToString());
        Assert.Equal("1-4(Tanh)-Scale(4)-2(Identity) Quadratic, batch 2, seed 3", new SpecCase(Spec(new Scale(4)), 2, 3).ToString());
    }

    [Fact]
    public void NetArbitraries_For_refuses_a_sequence_network_by_name()
    {
        var spec = new NetworkSpec([new Dense(2, 3, ActivationKind.Tanh) { PerStep = true }, new Dense(3, 1) { PerStep = true }], LossKind.Quadratic);
        var e = Assert.Throws<ArgumentException>(() => NetArbitraries.For(spec));
        Assert.Contains("reads sequences", e.Message, StringComparison.Ordinal);
    }

    private static NetworkSpec Spec(Layer middle) =>
        new([new Dense(1, 4, ActivationKind.Tanh), middle, new Dense(4, 2)], LossKind.Quadratic);

    /// <summary>3-4(Tanh)-BrokenScale(4)-2(Identity), the scales set to 2 so the missing factor shows.</summary>
    private sealed record BrokenCase(int Batch, int Seed) : INetCase
    {
        public NetworkSpec Spec { get; } = new([new Dense(3, 4, ActivationKind.Tanh), new BrokenScale(4), new Dense(4, 2)], LossKind.Quadratic);
        public double[] X(int salt = 0) => CaseData.Inputs(3, Batch, Seed, salt);
        public double[] Y(int salt = 0) => CaseData.Targets(LossKind.Quadratic, 2, Batch, Seed, salt);

        public Network<double> Network()
        {
            var net = Network<double>.Create(Spec, Seed, Initialization.Xavier);
            net.Layout.SlotsOf(1)[0].Of(net.Parameters).Fill(2);
            return net;
        }
    }
}

/// <summary>y = s ⊙ x, with a Backward that forgets s in ∂C/∂x (∂C/∂s is right).</summary>
public sealed record BrokenScale(int Width) : Layer<BrokenScale, BrokenScaleKernel>
{
    public override int Inputs => Width;
    public override int Outputs => Width;
}

public readonly struct BrokenScaleKernel : ILayerKernel<BrokenScale>
{
    public static string Kind => "BrokenScale";

    public static ParameterTensor[] Parameters(BrokenScale layer) => [ParameterTensor.Vector("scale", layer.Width, ParameterInit.Ones)];

    public static int ScratchPerSample(BrokenScale layer, int time) => 0;

    public static void Forward<T>(BrokenScale layer, scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T> =>
        ScaleKernel.Forward(new Scale(layer.Width), in p);

    public static void Backward<T>(BrokenScale layer, scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ScaleKernel.Backward(new Scale(layer.Width), in p);
        if (!p.DX.IsEmpty) p.DY[..p.DX.Length].CopyTo(p.DX);   // the bug: ∂C/∂x = ∂C/∂y, s forgotten
    }

    public static string Format(BrokenScale layer) => layer.Width.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(string arguments, [NotNullWhen(true)] out BrokenScale? layer, out string reason)
    {
        layer = null;
        reason = "not parsed";
        return false;
    }
}
