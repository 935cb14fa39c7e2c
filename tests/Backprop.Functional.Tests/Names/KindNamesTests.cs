using System.Reflection;
using Xunit;

namespace Backprop.Functional.Tests.Names;

/// <summary>KindNames (also compiled into the generator) says the same as the enums and the loss structs.</summary>
public sealed class KindNamesTests
{
    [Fact]
    public void Activations_are_the_ActivationKind_names_in_order() =>
        Assert.Equal(Enum.GetNames<ActivationKind>(), KindNames.Activations);

    [Fact]
    public void Losses_are_the_LossKind_names_in_order() =>
        Assert.Equal(Enum.GetNames<LossKind>(), KindNames.Losses);

    [Fact]
    public void Fits_agrees_with_LossDispatch_for_every_pair()
    {
        int pairs = 0;
        foreach (LossKind loss in Enum.GetValues<LossKind>())
            foreach (ActivationKind output in Enum.GetValues<ActivationKind>())
            {
                Assert.True(LossDispatch.Fits(loss, output) == KindNames.Fits(loss.ToString(), output.ToString()), $"{loss} with {output}");
                pairs++;
            }
        Assert.Equal(24, pairs);
        Assert.False(KindNames.Fits("Hinge", "Identity"));
    }

    [Fact]
    public void Misfit_gives_each_loss_that_can_misfit_its_own_reason()
    {
        foreach (LossKind loss in Enum.GetValues<LossKind>())
        {
            var misfits = Enum.GetValues<ActivationKind>().Where(a => !LossDispatch.Fits(loss, a)).ToArray();
            if (misfits.Length == 0) continue;
            string reason = KindNames.Misfit(loss.ToString());
            Assert.NotEqual(KindNames.Misfit("Hinge"), reason);
            var e = Assert.Throws<ArgumentException>(() => new NetworkSpec([new Dense(2, 2, misfits[0])], loss));
            Assert.Contains($"loss {loss} does not fit output activation {misfits[0]}: {reason}", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(typeof(IActivation), typeof(ActivationKind))]
    [InlineData(typeof(ILoss), typeof(LossKind))]
    public void Every_name_is_a_library_struct_of_that_kind(Type contract, Type kinds)
    {
        string[] names = kinds == typeof(ActivationKind) ? KindNames.Activations : KindNames.Losses;
        foreach (string name in names)
        {
            Type? type = contract.Assembly.GetType("Backprop.Functional." + name);
            Assert.True(type is { IsValueType: true } && contract.IsAssignableFrom(type), $"{name} is not a struct implementing {contract.Name}");
            object? kind = type!.GetProperty("Kind", BindingFlags.Public | BindingFlags.Static)!.GetValue(null);
            Assert.Equal(Enum.Parse(kinds, name), kind);
        }
    }
}
