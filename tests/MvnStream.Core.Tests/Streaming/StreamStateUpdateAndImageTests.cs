using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Streaming;
using static MvnStream.Core.Tests.Streaming.StreamStateTests;

namespace MvnStream.Core.Tests.Streaming;

/// <summary>The online update policy (rows and time, on a clock moved by hand: no sleeps) and the checkpoint image round trip.</summary>
public sealed class StreamStateUpdateAndImageTests
{
    private const string T = "rows";

    private static StreamState New(UpdatePolicy? policy = null, ManualClock? clock = null, double forgetting = 1)
    {
        var state = new StreamState(3, forgetting, policy, clock ?? new ManualClock());
        state.Position(T, 0, 0, out _);
        state.Position(T, 1, 0, out _);
        return state;
    }

    [Fact]
    public void By_default_an_update_is_due_after_every_merge_once_there_are_more_rows_than_d_and_none_is_running()
    {
        var state = New();
        Assert.False(state.UpdateDue); // nothing merged
        state.Offer(Read(0, 3));       // 3 rows: not more than d = 3
        Assert.Equal(3, state.Statistics.Count);
        Assert.False(state.UpdateDue);
        state.Offer(Read(3, 4));
        Assert.True(state.UpdateDue);

        var stats = state.BeginUpdate();
        Assert.Equal(4, stats.Count);
        Assert.False(state.UpdateDue); // running, and nothing new
        state.Offer(Read(4, 10));
        Assert.False(state.UpdateDue); // new rows, but one update at a time
        Assert.Equal(4, stats.Count);  // the solver's copy is not the live statistics
        state.CompleteUpdate(null, null); // a solve that produced no model
        Assert.Equal(0, state.Version);
        Assert.True(state.UpdateDue);
        state.BeginUpdate();
        state.CompleteUpdate(MvnParameters.Identity(3, Parameterization.LowerTriangular), null);
        Assert.Equal(1, state.Version);
        Assert.False(state.UpdateDue); // nothing merged since that update began

        // A contribution of rejected records only still changes the state (its counters): an update is due.
        state.Offer(new Contribution(T, 1, 0, 2, 0, 2, null));
        Assert.True(state.UpdateDue);
    }

    [Fact]
    public void With_a_row_policy_an_update_is_due_once_enough_rows_were_merged_since_the_last_one_began()
    {
        var state = New(new UpdatePolicy(EveryRows: 50));
        state.Offer(Read(0, 30));
        long rows = state.Statistics.Count;
        Assert.True(rows < 50);
        Assert.False(state.UpdateDue);
        state.Offer(Read(30, 60));
        Assert.True(state.Statistics.Count >= 50);
        Assert.True(state.UpdateDue);
        state.BeginUpdate();
        state.CompleteUpdate(null, null);
        state.Offer(Read(0, 45, partition: 1)); // 45 records, fewer rows (some are rejected)
        Assert.False(state.UpdateDue);
        state.Offer(Read(45, 60, partition: 1));
        Assert.True(state.UpdateDue);
    }

    [Fact]
    public void With_a_time_limit_an_update_is_due_when_the_oldest_unseen_change_is_that_old()
    {
        var clock = new ManualClock();
        var state = New(new UpdatePolicy(EveryRows: long.MaxValue, MaxDelay: TimeSpan.FromSeconds(5)), clock);
        clock.Advance(TimeSpan.FromSeconds(60)); // time without a change makes nothing due
        state.Offer(Read(0, 20));
        Assert.False(state.UpdateDue);
        clock.Advance(TimeSpan.FromSeconds(3));
        state.Offer(Read(20, 40)); // a later change does not restart the delay
        clock.Advance(TimeSpan.FromSeconds(1.999));
        Assert.False(state.UpdateDue);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(state.UpdateDue);

        state.BeginUpdate();
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.False(state.UpdateDue); // running
        state.CompleteUpdate(null, null);
        Assert.False(state.UpdateDue); // nothing changed since it began
        state.Offer(Read(40, 50));
        clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(state.UpdateDue);
        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(state.UpdateDue);
    }

    [Fact]
    public void An_invalid_update_policy_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new StreamState(3, 1, new UpdatePolicy(EveryRows: -1)));
        Assert.Throws<ArgumentException>(() => new StreamState(3, 1, new UpdatePolicy(MaxDelay: TimeSpan.FromSeconds(-1))));
    }

    [Fact]
    public void The_image_restores_the_same_state_in_the_next_epoch_and_the_restored_state_goes_on_alike()
    {
        var clock = new ManualClock();
        var state = New(clock: clock, forgetting: 0.999);
        state.Offer(Read(0, 70));
        state.Offer(Read(0, 33, partition: 1));
        state.Offer(Read(0, 10));             // a duplicate
        state.Offer(Read(90, 95));            // a refusal
        state.RecordLoss(T, 1, 50, 33, out _); // 17 lost
        state.Position(T, 2, 8, out _);        // 8 lost before the first read
        state.BeginUpdate();
        var theta = new MvnParameters([1, 2, 3], [1, 0, 0, 0.5, 2, 0, -1, 0.25, 3], Parameterization.LowerTriangular);
        var adam = new AdamState([0.1, 0.2], [0.3, 0.4], 7, 0.01);
        state.CompleteUpdate(theta, adam);
        clock.Advance(TimeSpan.FromMinutes(3));

        var image = state.ToImage();
        Assert.Equal(clock.GetUtcNow(), image.TakenUtc);
        Assert.Equal(state.Changes, image.Changes);
        var restored = new StreamState(3, 0.999, null, new ManualClock());
        restored.Restore(image);

        Assert.Equal(state.Epoch + 1, restored.Epoch);
        Assert.True(restored.RestoredFromCheckpoint);
        Assert.Equal(state.Statistics.Count, restored.RestoredRows);
        AssertSame(state.Statistics, restored.Statistics); // n and every sum exactly
        Assert.Equal(state.Ledger.Partitions.OrderBy(p => p.Partition), restored.Ledger.Partitions.OrderBy(p => p.Partition));
        Assert.Equal((state.Version, state.AcceptedRecords, state.RejectedRecords, state.LostRecords, state.Duplicates, state.Refused),
            (restored.Version, restored.AcceptedRecords, restored.RejectedRecords, restored.LostRecords, restored.Duplicates, restored.Refused));
        Assert.Equal(25, restored.LostRecords);
        Assert.Same(theta, restored.Theta);
        Assert.Same(adam, restored.Adam);

        // The image is a copy: what the live state merges after it was taken is not in it.
        long imaged = image.Statistics.Count;
        state.Offer(Read(70, 80));
        Assert.Equal(imaged, image.Statistics.Count);

        // Both go on alike: the same contributions give the same decisions and the same statistics.
        restored.Offer(Read(70, 80));
        foreach (var c in new[] { Read(80, 120), Read(50, 60, partition: 1), Read(8, 20, partition: 2), Read(100, 130), Read(60, 65, partition: 1) })
            Assert.Equal(state.Offer(c), restored.Offer(c));
        AssertSame(state.Statistics, restored.Statistics);
        Assert.Equal(state.Ledger.RecordsCovered, restored.Ledger.RecordsCovered);
    }

    [Fact]
    public void A_fresh_state_restored_from_the_image_of_a_fresh_state_is_empty_at_offset_0()
    {
        var restored = new StreamState(3, 1, null, new ManualClock());
        restored.Restore(new StreamState(3, 1, null, new ManualClock()).ToImage());
        Assert.Equal(2, restored.Epoch);
        Assert.Equal(0, restored.Statistics.Count);
        Assert.Empty(restored.Ledger.Partitions);
        Assert.Null(restored.Theta);
    }

    [Fact]
    public void An_image_of_another_dimension_replaces_the_states_dimension()
    {
        var wide = new StreamState(5, 1, null, new ManualClock());
        var narrow = New();
        narrow.Offer(Read(0, 40));
        wide.Restore(narrow.ToImage());
        Assert.Equal(3, wide.Dimension);
        AssertSame(narrow.Statistics, wide.Statistics);
        Assert.Equal(MergeOutcome.Accepted, wide.Offer(Read(40, 50)).Outcome);
    }
}
