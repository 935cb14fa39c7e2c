using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop train --mpi</c> (or any <c>train</c> started by Open MPI's <c>mpirun</c> with more than one
/// process): start MPI, give the run one micro-shard per process unless told more, silence every rank but 0 (which
/// alone writes the model, the plot, the report and checkpoints), and end the whole job when one rank fails.</summary>
internal static class MpiRun
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Whether this process is one of several that mpirun started (training is then distributed without --mpi).</summary>
    public static bool LaunchedWithOthers =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), NumberStyles.None, Inv, out int size) && size > 1;

    /// <summary>Runs <paramref name="s"/> as this rank's part of the job.</summary>
    public static int Train(TrainSettings s, IAnsiConsole console, TextWriter? warnings)
    {
        MpiWorld world;
        try
        {
            world = MpiWorld.Initialize();
        }
        catch (InvalidOperationException e)
        {
            throw new CliException($"--mpi: {e.Message}");
        }

        using (world)
        {
            if (s.MicroShards < world.Size)
            {
                if (s.MicroShards != 1)
                    throw new UsageException(string.Create(Inv, $"--micro-shards {s.MicroShards} with {world.Size} MPI processes: each process computes whole micro-shards, so give at least {world.Size} (or leave it out: one per process)"));
                s = s with { MicroShards = world.Size };
            }
            var mine = world.Rank == 0 ? console : Silent();
            try
            {
                return TrainRunner.Run(s, mine, warnings, world);
            }
            catch (Exception e) when (world.Size > 1 && e is not UsageException)
            {
                (warnings ?? Console.Error).WriteLine($"backprop: rank {world.Rank} of {world.Size} failed: {e.Message.ReplaceLineEndings(" ")}; ending the job (MPI_Abort)");
                (warnings ?? Console.Error).Flush();
                world.Abort(ExitCodes.Failure);
                return ExitCodes.Failure;   // not reached: MPI_Abort ends the process
            }
        }
    }

    /// <summary>The line rank 0 prints after training: what the exchange moved and how long it took.</summary>
    public static string Summary(MpiTraining mpi, double trainSeconds) =>
        mpi.Steps == 0
            ? string.Create(Inv, $"MPI: {mpi.World.Size} processes; no step was split (one micro-shard, or batches of one row)")
            : string.Create(Inv,
                $"MPI: {mpi.World.Size} processes, {mpi.Steps:N0} split steps, {mpi.BytesExchanged / (double)mpi.Steps / 1024:N0} KiB ({mpi.BytesExchanged / mpi.Steps:N0} bytes) received per step; of {trainSeconds:F2} s training on rank 0, {mpi.WaitingTime.TotalSeconds:F2} s waiting for the other ranks' shards and {(mpi.CommunicationTime - mpi.WaitingTime).TotalSeconds:F2} s in the transfers ({(mpi.CommunicationTime - mpi.WaitingTime).TotalMilliseconds * 1000 / mpi.Steps:F0} µs per step)");

    private static IAnsiConsole Silent() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(TextWriter.Null),
        Interactive = InteractionSupport.No,
        Ansi = AnsiSupport.No,
    });
}
