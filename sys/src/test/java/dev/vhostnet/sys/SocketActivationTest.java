package dev.vhostnet.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/** Socket activation: what {@code sd_listen_fds} reads, and a listening socket taken over from its descriptor. */
class SocketActivationTest {
    @TempDir
    Path dir;

    @Test
    void readsListenFdsOnlyWhenListenPidIsThisProcess() throws Exception {
        assertTrue(SocketActivation.listener(Map.of(), 42).isEmpty(), "not socket-activated");
        assertTrue(
                SocketActivation.listener(Map.of("LISTEN_PID", "41", "LISTEN_FDS", "1"), 42)
                        .isEmpty(),
                "meant for another process");
        SysException two = assertThrows(
                SysException.class, () -> SocketActivation.listener(Map.of("LISTEN_PID", "42", "LISTEN_FDS", "2"), 42));
        assertTrue(
                two.getMessage().contains("2 sockets passed (LISTEN_FDS=2): this service listens on one"),
                two.getMessage());
        SysException garbage = assertThrows(
                SysException.class, () -> SocketActivation.listener(Map.of("LISTEN_PID", "x", "LISTEN_FDS", "1"), 42));
        assertTrue(garbage.getMessage().contains("are not numbers"), garbage.getMessage());
    }

    @Test
    void takesOverAListeningSocketByItsDescriptorAndLeavesItsFileToItsMaker() throws Exception {
        Path path = dir.resolve("activated.sock");
        AFUNIXServerSocket maker = AFUNIXServerSocket.newInstance();
        maker.setDeleteOnClose(false);
        maker.bind(AFUNIXSocketAddress.of(path));
        int number = FileDescriptorCast.using(maker.getFileDescriptor()).as(Integer.class);
        // as systemd hands it over: the descriptor alone, the listener its only owner from now on
        int passed = Fd.takeOver(maker.getFileDescriptor(), number, "listening socket")
                .get();
        maker.close();
        try (UnixListener listener = UnixListener.inherited(passed)) {
            assertEquals(path, listener.file().path());
            assertTrue(listener.file().isInPlace());
            try (AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
                    AFUNIXSocket accepted = listener.server().accept()) {
                client.getOutputStream().write(7);
                assertEquals(7, accepted.getInputStream().read(), "it accepts on the passed socket");
            }
        }
        assertTrue(Files.exists(path), "the socket file is its maker's: it stays");
        assertFalse(Files.exists(Path.of("/proc/self/fd", Integer.toString(passed))), "the descriptor is closed");
    }

    @Test
    void refusesAndClosesADescriptorThatIsNotAListeningUnixSocket() throws Exception {
        Fd eventfd = Syscalls.eventfd(0, 0);
        int passed = eventfd.dup().get();
        eventfd.close();
        SysException e = assertThrows(SysException.class, () -> UnixListener.inherited(passed));
        assertTrue(e.is(Errno.ENOTSOCK), e.getMessage());
        assertFalse(
                Files.exists(Path.of("/proc/self/fd", Integer.toString(passed))), "the refused descriptor is closed");
    }
}
