using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>The CLI's lowercase spellings cover every activation and loss kind of the library, each once.</summary>
public sealed class NamesTests
{
    [Fact]
    public void Activations_map_onto_every_ActivationKind_once_and_back()
    {
        var kinds = Names.Activations.Select(Names.Activation).ToArray();
        Assert.Equal(Enum.GetValues<ActivationKind>().Order(), kinds.Order());
        Assert.All(Names.Activations, n => Assert.Equal(n, Names.Of(Names.Activation(n))));
        Assert.Equal(Names.Activations.Where(n => n != "softmax").Order(), Names.HiddenActivations.Order());   // all but the output-only one
    }

    [Fact]
    public void Losses_map_onto_every_LossKind_once_and_back()
    {
        var kinds = Names.Losses.Select(Names.Loss).ToArray();
        Assert.Equal(Enum.GetValues<LossKind>().Order(), kinds.Order());
        Assert.All(Names.Losses, n => Assert.Equal(n, Names.Of(Names.Loss(n))));
    }
}
