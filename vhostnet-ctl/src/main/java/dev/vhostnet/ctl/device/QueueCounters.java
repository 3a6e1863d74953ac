package dev.vhostnet.ctl.device;

import com.google.common.collect.ImmutableMap;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What one device queue has seen, as Firecracker's per-device {@code metrics.rs}: one counter per
 * {@link Violation} and a few for the data path. Written only by the queue's own thread (a plain
 * read and a release write, no lock and no CAS), readable from any thread. Counters survive
 * {@link DeviceQueue#reset()}: they are cumulative.
 */
public final class QueueCounters {
    /** The data-path counters, beside the violations. */
    public enum Event {
        CHAINS_POPPED("chainsPopped"),
        DESCRIPTORS_READ("descriptorsRead"),
        USED_PUSHED("usedPushed"),
        USED_FLUSHES("usedFlushes"),
        NOTIFICATIONS_NEEDED("notificationsNeeded"),
        NOTIFICATIONS_SUPPRESSED("notificationsSuppressed"),
        BAD_CHAINS_RETURNED("badChainsReturned");

        private final String counterName;

        Event(String counterName) {
            this.counterName = counterName;
        }

        public String counterName() {
            return counterName;
        }
    }

    private static final Violation[] VIOLATIONS = Violation.values();
    private static final Event[] EVENTS = Event.values();

    private final AtomicLongArray violations = new AtomicLongArray(VIOLATIONS.length);
    private final AtomicLongArray events = new AtomicLongArray(EVENTS.length);

    QueueCounters() {}

    void count(Violation v) {
        violations.setRelease(v.ordinal(), violations.getPlain(v.ordinal()) + 1);
    }

    void count(Event e) {
        add(e, 1);
    }

    void add(Event e, long n) {
        events.setRelease(e.ordinal(), events.getPlain(e.ordinal()) + n);
    }

    public long get(Violation v) {
        return violations.getAcquire(v.ordinal());
    }

    public long get(Event e) {
        return events.getAcquire(e.ordinal());
    }

    /** The sum of all violation counters. */
    public long violations() {
        long sum = 0;
        for (Violation v : VIOLATIONS) {
            sum += get(v);
        }
        return sum;
    }

    /** Every counter by its name, violations first, in declaration order. */
    public ImmutableMap<String, Long> snapshot() {
        ImmutableMap.Builder<String, Long> b = ImmutableMap.builder();
        for (Violation v : VIOLATIONS) {
            b.put(v.counterName(), get(v));
        }
        for (Event e : EVENTS) {
            b.put(e.counterName(), get(e));
        }
        return b.build();
    }

    @Override
    public String toString() {
        return snapshot().toString();
    }
}
