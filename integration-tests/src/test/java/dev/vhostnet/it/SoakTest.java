package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.FEATURES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice.Kind;
import dev.vhostnet.sys.OpenFds;
import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A device moved between vhost-net and the emulated backend every few hundred frames, for a while,
 * under traffic: every round's frames arrive once and in order, and the descriptors and resident
 * memory of the process stay flat. CI runs it for {@code vhostnet.soak.seconds} (default 20) with
 * the other in-VM tests; for the report, the test VM runs it alone for ten minutes:
 * {@code testvm/run-in-vm.sh -- java -Dvhostnet.soak.seconds=600 -cp … InVmLauncher results.tsv soak}.
 */
@Tag("vhost-net")
@Tag("soak")
class SoakTest {
    private static final int FRAMES_PER_ROUND = 400;

    @Test
    void switchingBackendsUnderTrafficKeepsFdsAndMemoryFlatAndLosesNothing() throws Exception {
        NetFixture.assumeVhostNet();
        long seconds = Long.getLong("vhostnet.soak.seconds", 20);
        try (NetFixture k = NetFixture.start(Kind.EMULATED, 1, FEATURES);
                DatagramSocket socket = k.net.socket()) {
            round(k, socket, Kind.KERNEL);
            round(k, socket, Kind.EMULATED);
            Set<Integer> fdsAtStart = OpenFds.snapshot();
            long rssAtStart = rssKiB();
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            int rounds = 0;
            long frames = 0;
            long rssMax = rssAtStart;
            while (System.nanoTime() < end) {
                round(k, socket, rounds % 2 == 0 ? Kind.KERNEL : Kind.EMULATED);
                rounds++;
                frames += FRAMES_PER_ROUND;
                rssMax = Math.max(rssMax, rssKiB());
            }
            System.gc();
            long rssAtEnd = rssKiB();
            System.out.printf(
                    "soak: %d s, %d backend switches, %d frames each arrived once in order; fds %d -> %d; "
                            + "RSS %d KiB -> %d KiB (max %d KiB)%n",
                    seconds,
                    rounds,
                    frames,
                    fdsAtStart.size(),
                    OpenFds.snapshot().size(),
                    rssAtStart,
                    rssAtEnd,
                    rssMax);
            assertEquals("", OpenFds.leakedSince(fdsAtStart), "descriptors left open by the switches");
            assertTrue(rssAtEnd - rssAtStart < 64 * 1024, "RSS grew by " + (rssAtEnd - rssAtStart) + " KiB");
        }
    }

    /** One round of numbered frames, the device moved to {@code next} half-way. */
    private static void round(NetFixture k, DatagramSocket socket, Kind next) throws Exception {
        try (SequencedTraffic traffic = new SequencedTraffic(k, socket, FRAMES_PER_ROUND)) {
            traffic.awaitReceived(FRAMES_PER_ROUND / 2);
            k.switchTo(next);
            traffic.assertAllArrivedOnceInOrder();
        }
    }

    private static long rssKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
