package dev.vhostnet.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.sys.OpenFds;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class MaskedNotifierWatcherTest {
    /**
     * {@code MsixVectors}' constructor watched its notifiers without the transport's lock while the
     * watcher thread, already started, copied the set under it: the copy met a set being resized
     * ({@code ArrayIndexOutOfBoundsException} in {@code HashSet.toArray}, seen in CI as a counted
     * internal error). Watch and unwatch from a thread holding no lock while the watcher loops.
     */
    @Test
    void watchAndUnwatchWithoutTheLockWhileTheThreadLoops() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        Object lock = new Object();
        TransportCounters counters = new TransportCounters();
        AtomicLong signalled = new AtomicLong();
        List<EventFd> notifiers = new ArrayList<>();
        try {
            for (int i = 0; i < 16; i++) {
                notifiers.add(EventFd.create());
            }
            try (MaskedNotifierWatcher watcher =
                    new MaskedNotifierWatcher(lock, (n, count) -> signalled.addAndGet(count), counters, "watcher")) {
                long deadline = System.nanoTime() + 1_000_000_000L;
                int rounds = 0;
                while (System.nanoTime() < deadline) {
                    for (EventFd n : notifiers) {
                        watcher.watch(n);
                    }
                    notifiers.get(rounds % notifiers.size()).signal();
                    for (EventFd n : notifiers) {
                        watcher.unwatch(n);
                    }
                    rounds++;
                }
                watcher.watch(notifiers.get(0));
                notifiers.get(0).signal();
                long wait = System.nanoTime() + 5_000_000_000L;
                while (signalled.get() == 0 && System.nanoTime() < wait) {
                    Thread.sleep(1);
                }
                assertTrue(signalled.get() > 0, "a watched notifier's signal reaches the handler");
            }
            assertEquals(0, counters.internalErrors(), counters.lastRefusal());
        } finally {
            notifiers.forEach(EventFd::close);
        }
        assertEquals("", OpenFds.leakedSince(before));
    }
}
