package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class WakingCountTest {
    @Test
    void aWaiterIsWokenWhenTheCountReachesItsTargetNotBefore() throws Exception {
        WakingCount count = new WakingCount();
        long[] seenOnWake = new long[1];
        Thread waiter = new Thread(() -> {
            count.await(64, TimeUnit.SECONDS.toNanos(30));
            seenOnWake[0] = count.getAsLong();
        });
        waiter.start();
        for (int i = 0; i < 63; i++) {
            count.increment();
        }
        Thread.sleep(100);
        assertTrue(waiter.isAlive(), "63 of 64 counted: the waiter still waits");
        count.increment();
        waiter.join(5_000);
        assertTrue(!waiter.isAlive(), "the 64th packet woke the waiter (not its 30 s timeout)");
        assertEquals(64, seenOnWake[0]);
    }

    @Test
    void aWaitEndsAtItsTimeoutAndAViewSinceABaseCountsFromThere() {
        WakingCount count = new WakingCount();
        for (int i = 0; i < 10; i++) {
            count.increment();
        }
        PacketCount rep = count.since(10);
        assertEquals(0, rep.getAsLong());
        long t0 = System.nanoTime();
        rep.await(1, TimeUnit.MILLISECONDS.toNanos(20));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(15), "waited out the timeout");
        count.increment();
        assertEquals(1, rep.getAsLong());
    }

    @Test
    void halfTheWindowIsOpenAgainWhenTheFarEndHasCountedAllButHalfAWindow() {
        Window flow = new Window(128);
        assertEquals(0, flow.room(128, 0));
        assertEquals(64, flow.halfOpenAt(128));
        assertEquals(64, flow.room(128, flow.halfOpenAt(128)));
    }
}
