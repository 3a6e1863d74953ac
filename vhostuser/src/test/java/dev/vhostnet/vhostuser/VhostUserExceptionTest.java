package dev.vhostnet.vhostuser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.Errno;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VhostUserExceptionTest {
    @TempDir
    Path dir;

    @Test
    void eachKindReportsItsErrnoAndOnlyAPeerThatWentAwayIsWorthAReconnect() {
        List<VhostUserException> all = List.of(
                VhostUserException.protocol("p", "x"),
                VhostUserException.refused("r", "x"),
                VhostUserException.disconnected("d", "x"),
                VhostUserException.unsupported("u", "x"),
                VhostUserException.timeout("t", "x"),
                VhostUserException.cancelled("c", "x"));
        for (VhostUserException e : all) {
            assertEquals(e.kind().errno().number(), e.errno(), e.getMessage());
            assertEquals(e.kind() == VhostUserException.Kind.DISCONNECTED, e.shouldReconnect(), e.getMessage());
        }
        assertEquals(
                List.of(Errno.EPROTO, Errno.EIO, Errno.ECONNRESET, Errno.EOPNOTSUPP, Errno.ETIMEDOUT, Errno.ECANCELED),
                all.stream().map(e -> e.kind().errno()).toList());
        assertTrue(
                VhostUserException.protocol("GET_FEATURES", "bad").getMessage().contains("EPROTO"));
    }

    @Test
    void aFailureNamedAgainKeepsItsKind() {
        VhostUserException e =
                VhostUserException.disconnected("SET_OWNER", "gone").during("reconnect(/x)", "SET_OWNER: gone");
        assertEquals(VhostUserException.Kind.DISCONNECTED, e.kind());
        assertTrue(e.shouldReconnect());
        assertEquals("reconnect(/x)", e.call());
    }

    @Test
    void nothingListeningIsADisconnectionTheDialerRetriesUntilItsTimeRunsOut() {
        Path socket = dir.resolve("nobody.sock");
        VhostUserException refused = assertThrows(
                VhostUserException.class, () -> VhostUserConnection.connect(socket, Duration.ofSeconds(1)));
        assertEquals(VhostUserException.Kind.DISCONNECTED, refused.kind());
        assertEquals(Errno.ECONNREFUSED.number(), refused.errno());

        VhostUserException gaveUp = assertThrows(
                VhostUserException.class, () -> VhostUserDialer.of(socket).open(Duration.ofMillis(200), () -> false));
        assertEquals(VhostUserException.Kind.TIMEOUT, gaveUp.kind());
        assertFalse(gaveUp.shouldReconnect());
        assertTrue(gaveUp.getMessage().contains("attempts"), gaveUp.getMessage());
    }

    @Test
    void aWaitGivenUpByTheDeviceIsCancelledNotRetried() {
        VhostUserException e = assertThrows(
                VhostUserException.class,
                () -> VhostUserDialer.of(dir.resolve("nobody.sock")).open(Duration.ofSeconds(5), () -> true));
        assertEquals(VhostUserException.Kind.CANCELLED, e.kind());
        assertFalse(e.shouldReconnect());
    }
}
