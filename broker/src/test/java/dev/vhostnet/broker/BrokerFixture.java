package dev.vhostnet.broker;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.sys.Capabilities;
import dev.vhostnet.tap.Tun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** What the broker tests share: skips, a socket directory any uid can reach, raw exchanges. */
final class BrokerFixture {
    private BrokerFixture() {}

    /** Skips unless /dev/net/tun works and this process may create taps. */
    static void assumeTaps() {
        assumeTrue(
                Tun.isAvailable(),
                () -> "needs /dev/net/tun (modprobe tun): "
                        + Tun.unavailabilityCause().getMessage());
        assumeTrue(
                Capabilities.has(Capabilities.CAP_NET_ADMIN),
                "needs CAP_NET_ADMIN to create taps: run the tests as root");
    }

    /** 6 random hex digits. */
    static String random() {
        return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(2);
    }

    /** A fresh directory under /tmp that every uid may enter (mode 0755). */
    static Path socketDirectory() throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "vnbroker-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir;
    }

    static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Sends {@code bytes} as they are and reads one reply (fds the broker sends, if any, are counted and closed). */
    static Exchange exchange(Path socket, byte[] bytes) throws IOException {
        try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket))) {
            s.setAncillaryReceiveBufferSize(BrokerClient.ANCILLARY_BUFFER);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(bytes);
            BrokerReply reply = BrokerReply.decode(Wire.read(s.getInputStream()));
            int fds = 0;
            for (java.io.FileDescriptor fd : s.getReceivedFileDescriptors()) {
                BrokerClient.adopt(fd).close();
                fds++;
            }
            return new Exchange(reply, fds);
        }
    }

    record Exchange(BrokerReply reply, int fds) {}

    /** Whether the host namespace has an interface of this name. */
    static boolean linkExists(String name) {
        return Files.exists(Path.of("/sys/class/net", name));
    }

    /** Waits up to 5 s for {@code condition}. */
    static boolean eventually(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(20);
        }
        return condition.getAsBoolean();
    }
}
