using MvnStream.Core.Streaming;
using static MvnStream.Core.Streaming.StreamPhase;

namespace MvnStream.Core.Tests.Streaming;

public sealed class StreamPhaseTests
{
    [Fact]
    public void A_job_walks_the_phases_in_order_and_each_may_end_it()
    {
        StreamPhase[] walk = [Restoring, Running, Draining, Finalising, Saving, Done];
        for (int i = 0; i + 1 < walk.Length; i++)
        {
            Assert.True(StreamPhases.CanMove(walk[i], walk[i + 1]), $"{walk[i]} -> {walk[i + 1]}");
            Assert.True(StreamPhases.CanMove(walk[i], Done), $"{walk[i]} -> Done (a failure)");
        }
    }

    [Theory]
    [InlineData(Running, Restoring)]   // never back
    [InlineData(Draining, Running)]    // a stop is not undone
    [InlineData(Saving, Finalising)]
    [InlineData(Running, Finalising)]  // the final solve only after draining
    [InlineData(Draining, Saving)]     // saving only after the final solve (or its skip, through Finalising)
    [InlineData(Restoring, Draining)]  // a job that never ran is cancelled (Done), not drained
    [InlineData(Running, Running)]     // no phase is entered twice
    [InlineData(Done, Done)]
    [InlineData(Done, Restoring)]      // over is over
    public void Any_other_move_is_refused(StreamPhase from, StreamPhase to) => Assert.False(StreamPhases.CanMove(from, to));

    [Fact]
    public void Merging_lasts_from_running_through_draining_and_stops_when_the_final_solve_starts()
    {
        Assert.Equal([Running, Draining], Enum.GetValues<StreamPhase>().Where(p => p.Merging()));
        Assert.Equal([Draining, Finalising, Saving, Done], Enum.GetValues<StreamPhase>().Where(p => p.Stopping()));
        Assert.Equal([Running, Draining, Finalising, Saving, Done], Enum.GetValues<StreamPhase>().Where(p => p.Started()));
    }
}
