package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.tap.Tun;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScaleBenchTest {
    static final int CORES = Runtime.getRuntime().availableProcessors();

    static int count(String dir) {
        return new File(dir).list().length;
    }

    static long loopThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("vhostnet-emulated-own"))
                .count();
    }

    @Test
    void sixtyFourEmulatedDevicesOfEightPairsRunOnOneLoopPerCoreAndLeaveNoThreadOrFdBehind() throws Exception {
        assumeTrue(
                Tun.isAvailable(),
                () -> "needs /dev/net/tun: " + Tun.unavailabilityCause().getMessage());
        assumeTrue(new com.sun.security.auth.module.UnixSystem().getUid() == 0, "needs root to create taps");
        List<ScaleBench.Result> results = new ArrayList<>();
        int fdsBefore;
        int threadsBefore;
        try (EmulatedLoops loops = EmulatedLoops.create(CORES)) {
            ScaleBench.measure(BackendChoice.Kind.EMULATED, 4, 8, loops); // warm-up, and the loops' threads start
            fdsBefore = count("/proc/self/fd");
            threadsBefore = count("/proc/self/task");
            for (int devices : new int[] {1, 64}) {
                for (int pairs : new int[] {1, 8}) {
                    ScaleBench.Result r = ScaleBench.measure(BackendChoice.Kind.EMULATED, devices, pairs, loops);
                    results.add(r);
                    // A pair holds its own duplicate of its tap queue and four eventfds; the JVM may open
                    // one file of its own meanwhile (a jar, cgroup statistics), which a leak per device is not.
                    assertTrue(
                            r.fds() >= 5.0 * pairs && r.fds() <= 5.0 * pairs + 1.0 / devices,
                            r.fds() + " fds per device of " + pairs + " pairs, " + devices + " devices");
                    assertTrue(
                            r.threads() <= threadsBefore,
                            r.threads() + " threads with " + devices + " devices of " + pairs + " pairs running, "
                                    + threadsBefore + " before: a device starts none");
                    assertEquals(0, loops.pairs(), "every pair left its loop");
                }
            }
            assertTrue(loopThreads() <= CORES, loopThreads() + " loop threads for " + CORES + " cores");
            assertEquals(fdsBefore, count("/proc/self/fd"), "descriptors left open by the devices");
        }
        System.out.print(ScaleBench.markdown(results));
        assertEquals(0, loopThreads(), "closing the loops ended their threads");
    }
}
