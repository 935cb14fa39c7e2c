using System.Collections;
using System.Runtime.ExceptionServices;

namespace Backprop.Functional;

/// <summary>A training run that trains as it is read: enumerating it trains one epoch per element and yields each
/// <see cref="EpochResult"/> as soon as that epoch (and its evaluation) is done; <see cref="Count"/>, the indexer and
/// <see cref="Complete"/> train whatever is left first, so <c>run[^1]</c> is the last epoch. Finished epochs are kept:
/// enumerating again replays them (no training) and then continues where the run stopped. A run that is never read
/// trains nothing. The workspace, gradient and optimizer buffers are rented when the first epoch starts and returned
/// when the last one ends, when training throws, or on <see cref="Dispose"/>, which also ends the run where it stands.
/// <para>Training exceptions (<see cref="NonFiniteException"/>, <see cref="TrainingDivergedException"/>,
/// <see cref="OperationCanceledException"/>) surface from the read that trained the epoch, and again from any later read
/// that would need more epochs; the epochs finished before stay readable through <see cref="Finished"/>.</para>
/// <para>Threads: one reader at a time; it trains the network, so nothing else may use that network meanwhile.</para></summary>
public sealed class TrainingRun : IReadOnlyList<EpochResult>, IDisposable
{
    private readonly List<EpochResult> _finished = [];
    private IEnumerator<EpochResult>? _training;
    private ExceptionDispatchInfo? _failure;

    internal TrainingRun(IEnumerable<EpochResult> epochs) => _training = epochs.GetEnumerator();

    /// <summary>The epochs finished so far (resumed ones included), without training more.</summary>
    public IReadOnlyList<EpochResult> Finished => _finished;

    /// <summary>Whether the run has ended: every epoch trained, or disposed (false after a training exception).</summary>
    public bool IsComplete => _training is null && _failure is null;

    /// <summary>The number of epochs, after training the rest.</summary>
    public int Count
    {
        get
        {
            Complete();
            return _finished.Count;
        }
    }

    /// <summary>Epoch <paramref name="index"/> + 1's result, after training the rest.</summary>
    /// <param name="index">0-based.</param>
    public EpochResult this[int index]
    {
        get
        {
            Complete();
            return _finished[index];
        }
    }

    /// <summary>Trains every epoch left (nothing if the run has ended).</summary>
    public void Complete()
    {
        while (Advance()) { }
    }

    /// <summary>Replays the finished epochs, then trains and yields the rest one by one.</summary>
    public IEnumerator<EpochResult> GetEnumerator()
    {
        for (int i = 0; i < _finished.Count || Advance(); i++)
            yield return _finished[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Ends the run where it stands and returns its buffers; the finished epochs stay readable.</summary>
    public void Dispose()
    {
        var training = _training;
        _training = null;
        training?.Dispose();
    }

    /// <summary>Trains one more epoch; false once the run has ended.</summary>
    private bool Advance()
    {
        _failure?.Throw();
        if (_training is null) return false;
        bool more;
        try
        {
            more = _training.MoveNext();
        }
        catch (Exception e)
        {
            _failure = ExceptionDispatchInfo.Capture(e);
            Dispose();
            throw;
        }
        if (!more)
        {
            Dispose();
            return false;
        }
        _finished.Add(_training.Current);
        return true;
    }
}
