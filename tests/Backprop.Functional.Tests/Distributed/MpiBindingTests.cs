using Xunit;

namespace Backprop.Functional.Tests.Distributed;

/// <summary>The run-time Open MPI binding: absent MPI is a reason, not a crash; present MPI resolves every entry point
/// and handle (without starting MPI in the test process); ranks own contiguous blocks of shards.</summary>
public sealed class MpiBindingTests
{
    [SkippableFact]
    public void Without_MPI_IsAvailable_says_what_to_install()
    {
        bool available = MpiWorld.IsAvailable(out string? reason);
        Skip.If(available, "Open MPI is installed here, so the absent case cannot be seen (it is on a machine without libmpi.so.40)");
        Assert.Contains("apt-get install openmpi-bin", reason, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => MpiWorld.Initialize());
    }

    [SkippableFact]
    public void With_Open_MPI_every_entry_point_and_handle_resolves()
    {
        Skip.IfNot(MpiWorld.IsAvailable(out string? reason), reason);
        Assert.NotEqual(0, MpiLibrary.Handle);
        Assert.All(new[] { MpiLibrary.CommWorld, MpiLibrary.Float, MpiLibrary.Double, MpiLibrary.Sum }, h => Assert.NotEqual(0, h));
        Assert.True(MpiLibrary.AllResolved, "an entry point is null");
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(1, 2)]
    [InlineData(7, 3)]
    [InlineData(64, 8)]
    public void Ranks_own_contiguous_blocks_that_cover_every_shard_once(int shards, int ranks)
    {
        int expected = 0;
        for (int r = 0; r < ranks; r++)
        {
            int first = MpiTraining.First(r, shards, ranks), end = MpiTraining.First(r + 1, shards, ranks);
            Assert.Equal(expected, first);
            for (int s = first; s < end; s++) Assert.Equal(r, MpiTraining.Owner(s, shards, ranks));
            expected = end;
        }
        Assert.Equal(shards, expected);
    }
}
