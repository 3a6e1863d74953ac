package dev.vhostnet.eventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.eventfd.EventFd.Flag;
import dev.vhostnet.sys.OpenFds;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EventFdTest {
    @Test
    void countsSignalsAndResetsOnRead() throws Exception {
        try (EventFd e = EventFd.create()) {
            assertEquals(0, e.read(), "nothing signalled yet");
            e.signal();
            e.signal(4);
            assertEquals(5, e.read());
            assertEquals(0, e.read());
            assertTrue(e.fd().isNonBlocking());
            assertTrue(e.fd().isCloseOnExec());
        }
    }

    @Test
    void semaphoreModeTakesOneAtATime() throws Exception {
        try (EventFd e = EventFd.create(EnumSet.of(Flag.SEMAPHORE, Flag.NONBLOCK))) {
            e.signal(3);
            assertEquals(1, e.read());
            assertEquals(1, e.read());
            assertEquals(1, e.drain(), "drain takes the rest");
            assertEquals(0, e.read());
            assertFalse(e.fd().isCloseOnExec(), "CLOEXEC was not asked for");
        }
    }

    @Test
    void aBlockingEventFdWaitsWithATimeout() throws Exception {
        try (EventFd e = EventFd.create(EnumSet.noneOf(Flag.class))) {
            assertFalse(e.fd().isNonBlocking());
            assertEquals(0, e.await(50));
            e.signal(7);
            assertEquals(7, e.await(1000));
            assertEquals(0, e.drain());
        }
    }

    @Test
    void useAfterCloseThrowsAndNothingLeaks() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        EventFd e = EventFd.create();
        e.close();
        e.close();
        assertThrows(IllegalStateException.class, e::signal);
        assertEquals("", OpenFds.leakedSince(before));
    }
}
