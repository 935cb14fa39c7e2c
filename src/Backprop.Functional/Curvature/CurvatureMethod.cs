using System.Numerics;

namespace Backprop.Functional;

/// <summary>The description of a curvature optimizer (immutable options), which builds the optimizer for one network:
/// what <see cref="TrainingOptions.Curvature"/> takes in place of a gradient transform chain.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public abstract record CurvatureMethod
{
    /// <summary>The CLI's name of the method (<see cref="ICurvatureOptimizer{T}.Name"/>).</summary>
    public abstract string Name { get; }

    /// <summary>A fresh optimizer for <paramref name="spec"/> on batches of up to <paramref name="batch"/> rows.</summary>
    /// <param name="spec">The network.</param>
    /// <param name="batch">The largest batch an update will take.</param>
    /// <param name="threads">Threads the GEMMs may use.</param>
    /// <param name="seed">The run's seed (<see cref="TrainingOptions.Seed"/>); a method that draws at random (sampled targets,
    /// probe vectors) combines it with its options' own seed (<see cref="CombineSeeds"/>), so both change the draws.</param>
    public abstract ICurvatureOptimizer<T> Create<T>(NetworkSpec spec, int batch, int threads, long seed)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Prints nothing of its own: a method's text is its options (its <see cref="Name"/> is the CLI's, not an option).</summary>
    protected virtual bool PrintMembers(System.Text.StringBuilder builder) => false;

    /// <summary>The options' seed and the run's, combined (31·a + b, wrapping): 0 and 0 give 0.</summary>
    protected static long CombineSeeds(long options, long run) => unchecked(options * 31 + run);
}
