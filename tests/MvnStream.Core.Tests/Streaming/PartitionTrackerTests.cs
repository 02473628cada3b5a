using CsCheck;
using MvnStream.Core.Streaming.Intake;

namespace MvnStream.Core.Tests.Streaming;

/// <summary>
/// The intake's per-partition tracker (docs/ARCHITECTURE.md, "Streaming"), with a manual clock: random sequences of
/// assignments, ledger answers, reads, sends, acknowledgements, refusals, time, revocations and a drain, driven the way the
/// consume loop drives it, with a model of what was read, sent and acknowledged; every invariant is checked after every step.
/// </summary>
public sealed class PartitionTrackerTests
{
    private const int BatchRows = 4;
    private const int MaxRowsPerRecord = 3;
    private const int Partitions = 3;

    private static readonly IntakeOptions Small = new() { MaxInFlight = 3, MaxPendingBatches = 2, MaxRecordsPerContribution = 6 };

    /// <summary>What the test knows of one assigned partition, independently of the tracker.</summary>
    private sealed class Model
    {
        public bool Positioned;
        public long Next, SentTo, Records, Rows, AckedTo;
        public readonly List<(long From, long To)> InFlight = [];
        public readonly List<(long From, long To)> AckedOutOfOrder = [];
        public long ReadAt;

        public void PositionAt(long next, long now)
        {
            Positioned = true;
            Next = SentTo = AckedTo = next;
            Records = Rows = 0;
            InFlight.Clear();
            AckedOutOfOrder.Clear();
            ReadAt = now;
        }

        /// <summary>As the tracker's Unposition: what was pending or in flight is forgotten; the ledger decides.</summary>
        public void Unpositioned()
        {
            Positioned = false;
            Records = Rows = 0;
            InFlight.Clear();
        }

        public void Acked((long From, long To) r)
        {
            InFlight.Remove(r);
            AckedOutOfOrder.Add(r);
            // Acknowledged ranges confirm a prefix only up to the first range that is still unfinished.
            bool moved = true;
            while (moved)
            {
                moved = false;
                foreach (var a in AckedOutOfOrder.Where(a => a.From == AckedTo).ToList())
                {
                    AckedTo = a.To;
                    AckedOutOfOrder.Remove(a);
                    moved = true;
                }
            }
        }
    }

    private sealed class Driver
    {
        public readonly ManualClock Clock = new();
        public readonly Random Rng;
        public readonly PartitionTracker Tracker;
        public readonly Dictionary<int, Model> Models = [];

        public Driver(int seed)
        {
            Rng = new Random(seed);
            Tracker = new PartitionTracker(Small, BatchRows, Clock);
        }

        private long Now => Clock.GetTimestamp();

        /// <summary>As the intake's Flush: send the pending range when the window allows.</summary>
        public void Flush(TrackedPartition s, Model m, bool force = false)
        {
            if (!Tracker.CanSend(s, force)) return;
            var r = Tracker.Sent(s);
            Assert.Equal((m.SentTo, m.Next), r); // ranges are contiguous within a position
            m.InFlight.Add(r);
            m.SentTo = m.Next;
            m.Records = m.Rows = 0;
        }

        public void Step()
        {
            int p = Rng.Next(Partitions);
            bool assigned = Tracker.TryGet(p, out var s);
            Models.TryGetValue(p, out var m);
            switch (Rng.Next(14))
            {
                case 0:
                    Tracker.Assign(p);
                    Models[p] = new Model();
                    Tracker.PauseUnpositioned();
                    break;
                case 1 when assigned && s!.Querying:
                    if (Tracker.QueryAnswered(s))
                    {
                        long next = Rng.Next(0, 1000);
                        Tracker.Position(s, next);
                        Tracker.Sought(s);
                        m!.PositionAt(next, Now);
                    }
                    break;
                case 2 or 3 or 4 or 5 when assigned && s!.Positioned && !s.Paused && !Tracker.Draining:
                    Read(p, s, m!);
                    break;
                case 6 when assigned && s!.Positioned && !Tracker.Draining:
                    Flush(s, m!);
                    PartitionTracker.ReachedEnd(s, m!.Next);
                    break;
                case 7 or 8 when assigned && m!.InFlight.Count > 0:
                {
                    var r = m.InFlight[Rng.Next(m.InFlight.Count)];
                    bool refused = Rng.Next(10) == 0;
                    Assert.Equal(refused ? AckResult.Refused : AckResult.Accepted, Tracker.Acknowledge(p, r.From, r.To, refused));
                    if (refused)
                    {
                        // The ledger says where the partition resumes: after what it merged.
                        Tracker.Position(s!, m.AckedTo);
                        Tracker.Sought(s!);
                        m.PositionAt(m.AckedTo, Now);
                        break;
                    }
                    m.Acked(r);
                    if (Tracker.SendAfterAck(s!)) Flush(s!, m);
                    Tracker.ResumeAfterAck(s!);
                    break;
                }
                case 9 when assigned:
                {
                    // An acknowledgement of a range that is not in flight (an older position): ignored.
                    long from = Rng.Next(0, 1000);
                    if (m!.InFlight.Contains((from, from + 1))) break;
                    Assert.Equal(AckResult.Stale, Tracker.Acknowledge(p, from, from + 1, Rng.Next(2) == 0));
                    break;
                }
                case 10:
                    Clock.Advance(TimeSpan.FromMilliseconds(Rng.Next(0, 4000)));
                    Housekeeping();
                    break;
                case 11 when assigned && s!.Positioned && Rng.Next(4) == 0:
                    Tracker.Unposition(s);
                    m!.Unpositioned();
                    break;
                case 12 when assigned:
                {
                    bool mustSend = m!.Positioned && m.Next > m.SentTo && !Tracker.Draining;
                    Assert.Equal(mustSend, Tracker.StartHandOver(p));
                    if (mustSend)
                    {
                        Assert.Empty(s!.InFlight); // the window is flow control only: the hand-over never waits for it
                        m.InFlight.Clear();
                        Flush(s, m);
                        Assert.Equal(s.From, s.Expected); // nothing read is left behind for the next owner to read again
                    }
                    Tracker.Remove(p);
                    Models.Remove(p);
                    break;
                }
                case 13 when !Tracker.Draining && Rng.Next(20) == 0:
                    Tracker.BeginDrain();
                    foreach (var t in Tracker.Partitions) Flush(t, Models[t.Partition]);
                    break;
            }
        }

        private void Read(int p, TrackedPartition s0, Model m)
        {
            var s = Tracker.Reading(p);
            Assert.Same(s0, s);
            m.ReadAt = Now;
            long offset = m.Next;
            if (Rng.Next(8) == 0)
            {
                // Offsets that delivered nothing (transaction markers, compaction): the pending range covers them.
                offset += Rng.Next(1, 5);
                Assert.Equal(ReadPlace.Gap, PartitionTracker.Locate(s!, offset));
                Tracker.PassedOver(s!, offset);
                m.Next = offset;
            }
            Assert.Equal(ReadPlace.Next, PartitionTracker.Locate(s!, offset));
            Assert.Equal(ReadPlace.Behind, PartitionTracker.Locate(s!, offset - 1 - Rng.Next(3)));
            Tracker.BeginRecord(s!);
            int rows = Rng.Next(0, MaxRowsPerRecord + 1);
            if (s!.Rows.Dimension != 2) s.Rows.Reset(2);
            if (rows > 0) s.Rows.AppendRows(rows);
            m.Records++;
            m.Rows += rows;
            m.Next = offset + 1;
            if (Tracker.Counted(s, offset, accepted: rows > 0)) Flush(s, m);
            Tracker.PauseForFlow(s);
        }

        private void Housekeeping()
        {
            foreach (var s in Tracker.Partitions.ToList())
            {
                var m = Models[s.Partition];
                if (!s.Positioned)
                {
                    var action = Tracker.Unpositioned(s);
                    Assert.NotEqual(PositionAction.RetrySeek, action); // no seek failed here
                    continue;
                }
                if (Tracker.LingerDue(s, 50)) Flush(s, m);
                if (Tracker.AckTimedOut(s))
                {
                    Tracker.Unposition(s);
                    m.Unpositioned();
                    continue;
                }
                long lag = PartitionTracker.UpdateLag(s, m.Next + Rng.Next(0, 3));
                Assert.Equal(lag > 0 ? Clock.GetElapsedTime(m.ReadAt) : TimeSpan.Zero, Tracker.Unread(s));
            }
        }

        public void CheckInvariants()
        {
            Assert.Equal(Models.Keys.OrderBy(k => k), Tracker.PartitionNumbers.OrderBy(k => k));
            foreach (var s in Tracker.Partitions)
            {
                var m = Models[s.Partition];
                Assert.Equal(m.Positioned, s.Positioned);
                if (s.PausedForFlow) Assert.True(s.Paused);
                if (!s.Positioned) continue;
                // Position: the next offset to read and the pending range are exactly what was read and not sent.
                Assert.Equal(m.Next, s.Expected);
                Assert.Equal(m.SentTo, s.From);
                Assert.True(s.From <= s.Expected);
                Assert.Equal(m.Records, s.Accepted + s.Rejected);
                Assert.Equal(m.Rows, s.Rows.Rows);
                Assert.Equal(s.Rows.Rows > 0, s.Accepted > 0);
                // The in-flight window: bounded, ordered, disjoint, all before the pending range.
                Assert.True(s.InFlight.Count <= Small.MaxInFlight, $"{s.InFlight.Count} in flight");
                Assert.Equal(m.InFlight, s.InFlight.Select(x => (x.From, x.To)));
                for (int i = 0; i < s.InFlight.Count; i++)
                {
                    Assert.True(s.InFlight[i].From < s.InFlight[i].To);
                    Assert.True(s.InFlight[i].To <= (i + 1 < s.InFlight.Count ? s.InFlight[i + 1].From : s.From));
                }
                // Pending rows stay within the window (one record may cross it; then fetching pauses until acks drain it).
                Assert.True(s.Rows.Rows < Tracker.WindowRows + MaxRowsPerRecord, $"{s.Rows.Rows} rows pending");
                if (s.Rows.Rows >= Tracker.WindowRows && !Tracker.Draining) Assert.True(s.PausedForFlow);
                if (s.PausedForFlow && !Tracker.Draining) Assert.True(s.Rows.Rows >= Tracker.WindowRows || s.InFlight.Count > 0, "paused for flow with nothing to wait for");
                // Nothing is confirmed past an unfinished range: exactly the acknowledged prefix.
                Assert.Equal(m.AckedTo, s.Confirmed);
                Assert.True(s.Confirmed <= s.From);
                Assert.All(s.InFlight, r => Assert.True(s.Confirmed <= r.From));
            }
            if (Tracker.AllAcknowledged) Assert.All(Models.Values.Where(m => m.Positioned), m => Assert.True(m.InFlight.Count == 0 && m.Next == m.SentTo));
        }
    }

    [Fact]
    public void Invariants_hold_after_every_random_step()
    {
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[1, 400]).Sample((seed, steps) =>
        {
            var d = new Driver(seed);
            for (int i = 0; i < steps; i++)
            {
                d.Step();
                d.CheckInvariants();
            }
        }, iter: 300);
    }

    [Fact]
    public void A_full_window_pauses_the_partition_and_acknowledgements_resume_it()
    {
        var clock = new ManualClock();
        var t = new PartitionTracker(Small, BatchRows, clock);
        var s = t.Assign(0);
        Assert.True(t.QueryAnswered(s));
        t.Position(s, 100);
        t.Sought(s);
        s.Rows.Reset(1);
        long offset = 100;
        // Fill the in-flight window with full batches; the pending batch then grows to the row window and pauses.
        while (!s.PausedForFlow)
        {
            Assert.False(s.Paused);
            t.BeginRecord(s);
            s.Rows.AppendRows(1);
            if (t.Counted(s, offset++, accepted: true) && t.CanSend(s)) t.Sent(s);
            t.PauseForFlow(s);
        }
        Assert.Equal(Small.MaxInFlight, s.InFlight.Count);
        Assert.Equal(t.WindowRows, s.Rows.Rows);
        Assert.True(s.Paused);
        // Acknowledgements drain the window: the grown batch goes out, and the partition fetches again.
        var first = s.InFlight[0];
        Assert.Equal(AckResult.Accepted, t.Acknowledge(0, first.From, first.To, refused: false));
        Assert.True(t.SendAfterAck(s));
        var sent = t.Sent(s);
        Assert.Equal(offset, sent.To);
        Assert.True(t.ResumeAfterAck(s));
        Assert.False(s.Paused);
        Assert.False(t.ResumeAfterAck(s)); // once
    }

    [Fact]
    public void An_answer_to_an_earlier_assignment_is_stale_and_a_reassignment_starts_unpositioned()
    {
        var t = new PartitionTracker(IntakeOptions.Default, 10, new ManualClock());
        var first = t.Assign(2);
        Assert.Equal([2], t.PauseUnpositioned());
        Assert.Empty(t.PauseUnpositioned()); // already paused
        t.Remove(2);
        var second = t.Assign(2);
        Assert.False(t.QueryAnswered(first)); // revoked and assigned again meanwhile
        Assert.True(t.QueryAnswered(second));
        Assert.False(t.QueryAnswered(second)); // answered once
        t.Position(second, 40);
        t.Sought(second);
        Assert.True(t.IsAt(2, 40));
        t.BeginRecord(second);
        t.Counted(second, 40, accepted: false);
        t.Sent(second);
        Assert.False(t.IsAt(2, 41)); // a range in flight: a seek to the ledger's next must forget it
        // Revoked with nothing pending: nothing to hand over; the partition is let go.
        Assert.False(t.StartHandOver(2));
        t.Remove(2);
        Assert.False(t.TryGet(2, out _));
        Assert.Equal(AckResult.Stale, t.Acknowledge(2, 40, 41, refused: false));
    }

    [Fact]
    public void A_loss_report_is_answered_once_and_does_not_reseek()
    {
        var t = new PartitionTracker(IntakeOptions.Default, 10, new ManualClock());
        var s = t.Assign(0);
        t.QueryAnswered(s);
        t.Position(s, 5);
        t.Sought(s);
        Assert.Equal(ReadPlace.Gap, PartitionTracker.Locate(s, 30));
        PartitionTracker.LossReported(s, 20);
        t.PassedOver(s, 30);
        Assert.Equal((20L, 30L), (s.From, s.Expected));
        Assert.True(t.IsOwnLossAnswer(0, 20));
        Assert.False(t.IsOwnLossAnswer(0, 20));
    }

    [Fact]
    public void Stall_time_is_measured_on_the_injected_clock_and_checked_once_per_interval()
    {
        var clock = new ManualClock();
        var t = new PartitionTracker(IntakeOptions.Default, 10, clock);
        var s = t.Assign(0);
        t.QueryAnswered(s);
        t.Position(s, 0);
        t.Sought(s);
        Assert.Equal(0, PartitionTracker.UpdateLag(s, 0));
        clock.Advance(TimeSpan.FromSeconds(7));
        Assert.Equal(TimeSpan.Zero, t.Unread(s)); // no lag, no stall
        Assert.False(t.StallCheckDue(s));
        Assert.Equal(50, PartitionTracker.UpdateLag(s, 50));
        Assert.Equal(TimeSpan.FromSeconds(7), t.Unread(s));
        Assert.True(t.StallCheckDue(s));
        Assert.False(t.StallCheckDue(s)); // not again before another interval
        clock.Advance(IntakeOptions.Default.StallCheck);
        Assert.True(t.StallCheckDue(s));
        Assert.Same(s, t.Reading(0));
        Assert.Equal(TimeSpan.Zero, t.Unread(s));
        clock.Advance(TimeSpan.FromMilliseconds(300));
        Assert.Equal(TimeSpan.FromMilliseconds(300), t.Unread(s));
        clock.Advance(IntakeOptions.Default.StallCheck);
        t.MarkPaused(s);
        Assert.False(t.StallCheckDue(s)); // a paused partition is not fetching: not a stall
    }

    [Fact]
    public void An_unanswered_contribution_or_position_query_times_out_on_the_clock()
    {
        var clock = new ManualClock();
        var t = new PartitionTracker(IntakeOptions.Default, 10, clock);
        var s = t.Assign(0);
        Assert.Equal(PositionAction.None, t.Unpositioned(s)); // its first query is out
        t.QueryAnswered(s); // no answer (null)
        t.AskingPosition(s);
        clock.Advance(IntakeOptions.Default.PositionRetry);
        Assert.Equal(PositionAction.None, t.Unpositioned(s));
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(PositionAction.AskPosition, t.Unpositioned(s));
        Assert.Equal(PositionAction.None, t.Unpositioned(s)); // the retry clock restarted
        t.Position(s, 0);
        t.SeekFailed(s, 0);
        clock.Advance(IntakeOptions.Default.SeekRetry);
        Assert.Equal(PositionAction.RetrySeek, t.Unpositioned(s));
        t.Position(s, 0);
        t.Sought(s);
        t.BeginRecord(s);
        t.Counted(s, 0, accepted: false);
        t.Sent(s);
        clock.Advance(IntakeOptions.Default.AckTimeout);
        Assert.False(t.AckTimedOut(s));
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(t.AckTimedOut(s));
        Assert.True(t.Unposition(s)); // it was fetching: the consumer must pause it
        Assert.Empty(s.InFlight);
        Assert.False(s.Positioned);
        Assert.False(t.Unposition(s)); // already paused
    }
}
