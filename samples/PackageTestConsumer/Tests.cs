using Backprop.Functional;
using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Xunit;

namespace PackageTestConsumer;

/// <summary>What a user writes: one line per property, against their own network and activation.</summary>
public class MyNetworkTests
{
    private static readonly NetworkSpec Net =
        NetworkSpec.Mlp([3, 8, 2], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    [Property(MaxTest = 30)]
    public Property Gradient_equals_finite_differences() => NetworkProperties.GradientEqualsFiniteDifferences(Net);

    [Property(MaxTest = 30)]
    public Property Swish_derivative_equals_finite_difference() => ActivationProperties.DerivativeEqualsFiniteDifference<Swish>();
}

/// <summary>Must fail: package-check.sh runs this class alone and asserts that `dotnet test` fails with the kit's message.</summary>
public class DeliberatelyWrong
{
    [Property(MaxTest = 30)]
    public Property WrongSwish_derivative_is_caught() => ActivationProperties.DerivativeEqualsFiniteDifference<WrongSwish>();
}
