using Xunit;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>Hyper-parameters torch.optim refuses (negative η, λ or ε, β outside [0, 1), …) and NaN or ±∞, which
/// torch lets through and which turn every θ into NaN on the first step, are refused when the optimizer is built
/// or copied with <c>with</c>, by an <see cref="ArgumentOutOfRangeException"/> naming the field.</summary>
public sealed class HyperParameterValidationTests
{
    public static TheoryData<string, Func<Optimizer>> Bad() => new()
    {
        { "LearningRate", () => new Sgd(-0.1) },
        { "LearningRate", () => new Sgd(double.NaN) },
        { "LearningRate", () => new Adam(double.PositiveInfinity) },
        { "LearningRate", () => new Sgd(0.1) with { LearningRate = -1 } },
        { "WeightDecay", () => new Sgd(0.1, WeightDecay: -1e-4) },
        { "WeightDecay", () => new AdamW(WeightDecay: double.NaN) },
        { "Beta1", () => new Adam(Beta1: 1.0) },
        { "Beta1", () => new Adam(Beta1: -0.1) },
        { "Beta2", () => new Adam(Beta2: 1.5) },
        { "Beta2", () => new AdamW(Beta2: double.NaN) },
        { "Beta1", () => new Adam() with { Beta1 = 1.0 } },
        { "Epsilon", () => new Adam(Epsilon: -1e-8) },
        { "Epsilon", () => new RmsProp(Epsilon: double.NaN) },
        { "Epsilon", () => new Adagrad(Epsilon: -1) },
        { "Epsilon", () => new AdaDelta(Epsilon: -1) },
        { "Mu", () => new Momentum(Mu: -0.5) },
        { "Mu", () => new Nesterov(Mu: double.NaN) },
        { "Mu", () => new RmsProp(Mu: -1) },
        { "Dampening", () => new Momentum(Dampening: double.NaN) },
        { "Alpha", () => new RmsProp(Alpha: -0.1) },
        { "Rho", () => new AdaDelta(Rho: 1.5) },
        { "LrDecay", () => new Adagrad(LrDecay: -1) },
        { "InitialAccumulatorValue", () => new Adagrad(InitialAccumulatorValue: -1) },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void Out_of_range_hyper_parameter_is_refused_naming_the_field(string field, Func<Optimizer> build)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => build());
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Torch_boundary_values_are_accepted()
    {
        _ = new Sgd(0);
        _ = new Adam(Beta1: 0, Beta2: 0, Epsilon: 0);
        _ = new Momentum(Mu: 0, Dampening: 1);
        _ = new RmsProp(Alpha: 0);
        _ = new AdaDelta(Rho: 0);
        _ = new AdaDelta(Rho: 1);
        _ = new Adagrad(LrDecay: 0, InitialAccumulatorValue: 0);
        Assert.Equal(0.5, (new Adam() with { Beta1 = 0.5 }).Beta1);
    }
}
