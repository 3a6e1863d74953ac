package dev.vhostnet.vhostuser;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Syscalls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/** The back-end's socket end and the descriptors that come over it. */
class BackendConnectionTest {
    @TempDir
    Path dir;

    @Test
    void closingTheConnectionLeavesTheFdsItReceivedToTheirOwners() throws Exception {
        Path path = dir.resolve("backend.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path));
                AFUNIXSocket front = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
                Fd kick = Syscalls.eventfd(0, 0)) {
            BackendConnection back = new BackendConnection(server.accept(), Duration.ofSeconds(5));
            front.setOutboundFileDescriptors(
                    FileDescriptorCast.unsafeUsing(kick.get()).getFileDescriptor());
            front.getOutputStream()
                    .write(VhostUserMessage.request(
                            VhostUserRequest.SET_VRING_KICK, false, VhostUserMessage.vringFile(0, false)));
            try (FrontendRequest request = back.read();
                    Fd fd = request.vringFile().fd()) {
                fd.get();
            }
            // The back-end closed the fd it took; the next descriptor made takes the lowest free number,
            // which is the one the fd had when junixsocket kept it.
            try (Fd next = Syscalls.eventfd(0, 0)) {
                back.close();
                assertTrue(
                        Files.exists(Path.of("/proc/self/fd/" + next.get())),
                        "closing the connection closed fd " + next.get() + ", which belongs to another owner now");
            }
        }
    }
}
