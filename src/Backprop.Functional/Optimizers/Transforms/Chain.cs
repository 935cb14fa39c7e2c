using System.Collections.Immutable;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// Transforms applied in order, optax's <c>chain</c>: gₖ₊₁, θₖ₊₁ = memberₖ(gₖ, θₖ) for k = 0 … n−1, every member seeing the
/// step's incoming state, with η_t = <see cref="Schedule"/>(η, t) (η: the last <see cref="Optimizer"/> member's learning
/// rate) handed to all of them. Member k owns MomentCountₖ moments of the chain's buffers, after those of members 0 … k−1.
/// <para>Capabilities: <see cref="TransformCapabilities.ElementWise"/> when every member is; <see cref="TransformCapabilities.WritesParameters"/>
/// and <see cref="TransformCapabilities.LookAhead"/> when a member does (at most one looks ahead);
/// <see cref="TransformCapabilities.FusedOuterProduct"/> only for a single fused member (with a schedule). Split over
/// threads, the members up to the last non-element-wise one run on the whole vector, the element-wise rest is split.</para>
/// <para>Threads: immutable and shareable; the state an update writes takes one update at a time.</para>
/// </summary>
/// <remarks>Nested chains are flattened (a nested chain with a schedule is refused: put it on the outer chain).
/// <see cref="Transforms.Chain(GradientTransform[])"/> returns a lone member itself.</remarks>
public sealed record Chain : GradientTransform
{
    private readonly GradientTransform[] _members;
    private readonly int[] _first, _count;
    private readonly int _moments, _prefix, _lookAhead = -1;
    private readonly TransformCapabilities _capabilities;
    private readonly double _baseRate = 1;
    private readonly string _name;
    private readonly GradientTransform? _tail;

    /// <summary>A chain of <paramref name="members"/>, applied in order.</summary>
    /// <param name="members">The transforms, first applied first; nested chains are flattened.</param>
    /// <exception cref="ArgumentException">No member, a nested chain with a schedule, or two members that look ahead.</exception>
    public Chain(params GradientTransform[] members)
    {
        ArgumentNullException.ThrowIfNull(members);
        var flat = new List<GradientTransform>(members.Length);
        foreach (var member in members)
        {
            ArgumentNullException.ThrowIfNull(member, nameof(members));
            if (member is Chain inner)
            {
                if (inner.Schedule is not null)
                    throw new ArgumentException($"a nested {inner.Name} has its own schedule; give the schedule to the outer chain", nameof(members));
                flat.AddRange(inner._members);
            }
            else flat.Add(member);
        }
        if (flat.Count == 0) throw new ArgumentException("a chain needs at least one transform", nameof(members));
        _members = [.. flat];
        Members = [.. _members];
        _first = new int[_members.Length];
        _count = new int[_members.Length];
        var all = TransformCapabilities.ElementWise;
        _prefix = 0;
        for (int k = 0; k < _members.Length; k++)
        {
            var m = _members[k];
            _first[k] = _moments;
            _count[k] = m.MomentCount;
            _moments = checked(_moments + _count[k]);
            var c = m.Capabilities;
            if ((c & TransformCapabilities.ElementWise) == 0)
            {
                all = TransformCapabilities.None;
                _prefix = k + 1;
            }
            _capabilities |= c & (TransformCapabilities.WritesParameters | TransformCapabilities.LookAhead);
            if ((c & TransformCapabilities.LookAhead) != 0)
            {
                if (_lookAhead >= 0)
                    throw new ArgumentException($"{_members[_lookAhead].Name} and {m.Name} both want the gradient at a look-ahead point; a chain evaluates it at one", nameof(members));
                _lookAhead = k;
            }
            if (m is Optimizer o) _baseRate = o.LearningRate;
        }
        _capabilities |= all;
        if (_members.Length == 1) _capabilities |= _members[0].Capabilities & TransformCapabilities.FusedOuterProduct;
        _name = "Chain(" + string.Join(",", _members.Select(m => m.Name)) + ")";
        if (_prefix > 0 && _prefix < _members.Length)
            _tail = _members.Length - _prefix == 1 ? _members[^1] : new Chain(_members[_prefix..]);
    }

    /// <summary>The members, in the order they are applied.</summary>
    public ImmutableArray<GradientTransform> Members { get; }

    /// <summary>The learning-rate schedule over update steps (null: the constant η).</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <inheritdoc/>
    public override int MomentCount => _moments;

    /// <inheritdoc/>
    public override TransformCapabilities Capabilities => _capabilities;

    /// <summary><c>Chain(A,B,…)</c> of the members' names.</summary>
    public override string Name => _name;

    /// <summary>η_t = <see cref="Schedule"/>(η, t), or η without a schedule; η is the last optimizer member's learning
    /// rate (1 if there is none).</summary>
    /// <param name="t">Updates already done.</param>
    /// <returns>η_t.</returns>
    public override double LearningRateAt(long t) => Schedule?.Rate(_baseRate, t) ?? _baseRate;

    /// <summary>Member <paramref name="k"/>'s share of the chain's moments.</summary>
    private OptimizerBuffers<T> Share<T>(OptimizerBuffers<T> buffers, int k) where T : unmanaged, IFloatingPointIeee754<T> =>
        buffers.Moments(_first[k], _count[k]);

    /// <inheritdoc/>
    protected internal override void InitializeBuffers<T>(OptimizerBuffers<T> buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        for (int k = 0; k < _members.Length; k++) _members[k].InitializeBuffers(Share(buffers, k));
    }

    /// <summary>The look-ahead member's point, or θ.</summary>
    /// <inheritdoc/>
    public override ReadOnlySpan<T> GradientPoint<T>(ReadOnlySpan<T> theta, OptimizerBuffers<T> buffers, Workspace<T> ws) =>
        _lookAhead < 0 ? theta : _members[_lookAhead].GradientPoint(theta, Share(buffers, _lookAhead), ws);

    /// <summary>Each member in order on (g, θ, its moments), all with the incoming state; returns Step + 1.</summary>
    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        OptimizerGuard.RequireLearningRate(context.LearningRate);   // before a member (weight decay's 1 − ηλ) touches θ
        for (int k = 0; k < _members.Length; k++) _members[k].Update(state, g, theta, Share(buffers, k), in context);
        return state with { Step = state.Step + 1 };
    }

    internal override OptimizerState UpdateSplit<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
    {
        OptimizerGuard.RequireLearningRate(context.LearningRate);
        if (_prefix == 0) return ParallelUpdate<T>.Run(this, state, g, theta, buffers, in context);
        if (_tail is null) return Update(state, g, theta, buffers, in context);
        ArgumentNullException.ThrowIfNull(buffers);
        for (int k = 0; k < _prefix; k++) _members[k].Update(state, g, theta, Share(buffers, k), in context);
        ParallelUpdate<T>.Run(_tail, state, g, theta, buffers.Moments(_first[_prefix], _moments - _first[_prefix]), in context);
        return state with { Step = state.Step + 1 };
    }

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<float> scalars) =>
        Fused().PrepareFused(t, learningRate, ref scalars);

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<double> scalars) =>
        Fused().PrepareFused(t, learningRate, ref scalars);

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<float> scalars, scoped in FusedLayer<float> layer) =>
        Fused().UpdateFused(in scalars, in layer);

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<double> scalars, scoped in FusedLayer<double> layer) =>
        Fused().UpdateFused(in scalars, in layer);

    private GradientTransform Fused() =>
        (_capabilities & TransformCapabilities.FusedOuterProduct) != 0 ? _members[0] : throw OuterProductUpdate.NotFused(this, "optimizer");

    /// <summary>Value equality: the same members in the same order and the same schedule.</summary>
    /// <param name="other">The other chain.</param>
    /// <returns>Whether they are equal.</returns>
    public bool Equals(Chain? other) =>
        other is not null && Equals(Schedule, other.Schedule) && _members.AsSpan().SequenceEqual(other._members);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Schedule);
        foreach (var m in _members) hash.Add(m);
        return hash.ToHashCode();
    }

    /// <summary>The members, then the schedule.</summary>
    /// <param name="builder">The text being built.</param>
    /// <returns>True.</returns>
    protected override bool PrintMembers(System.Text.StringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Append(string.Join(", ", _members.Select(m => m.ToString())));
        if (Schedule is not null) builder.Append(", Schedule = ").Append(Schedule);
        return true;
    }
}

/// <summary>Builds transform chains: <c>Transforms.Chain(new ClipByGlobalNorm(5), new Adam(1e-3))</c>.</summary>
public static class Transforms
{
    /// <summary>The members applied in order (see <see cref="Functional.Chain"/>); a single member is returned as itself.</summary>
    /// <param name="members">The transforms, first applied first.</param>
    /// <returns>The chain, or the lone member.</returns>
    /// <exception cref="ArgumentException">No member, or two members that look ahead.</exception>
    public static GradientTransform Chain(params GradientTransform[] members)
    {
        var chain = new Chain(members);
        return chain.Members.Length == 1 ? chain.Members[0] : chain;
    }

    /// <summary>The members applied in order with the learning rate of each step from <paramref name="schedule"/>.</summary>
    /// <param name="schedule">η_t as a function of the last optimizer member's η.</param>
    /// <param name="members">The transforms, first applied first.</param>
    /// <returns>The chain.</returns>
    public static Chain Chain(LearningRateSchedule schedule, params GradientTransform[] members)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return new Chain(members) { Schedule = schedule };
    }
}
