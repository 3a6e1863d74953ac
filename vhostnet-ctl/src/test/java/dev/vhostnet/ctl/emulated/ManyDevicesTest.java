package dev.vhostnet.ctl.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.Tun;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Tens of devices of several queue pairs each on one host: the emulated backend serves them all
 * from its bounded set of loops, and prints what a device costs to bring up and tear down.
 */
class ManyDevicesTest {
    static final int RING = 64;
    static final int CORES = Runtime.getRuntime().availableProcessors();
    static final FeatureSet FEATURES = FeatureSet.of(VirtioFeature.VERSION_1, VirtioFeature.MRG_RXBUF, VirtioFeature.EVENT_IDX);

    /** What a VMM makes for a device before starting it: a multiqueue tap and two eventfds per vring. */
    record Guest(TapDevice tap, List<EventFd> fds, NetDeviceConfig config) implements AutoCloseable {
        static Guest make(MemoryTable memory, long base, int pairs, EmulatedLoops loops) throws Exception {
            TapDevice tap = TapDevice.open(TapConfig.builder().name(Names.random("md")).queues(pairs)
                    .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF).build());
            List<EventFd> fds = new ArrayList<>();
            NetDeviceConfig.Builder b = NetDeviceConfig.builder().memory(memory).tap(tap).driverFeatures(FEATURES).loops(loops);
            long ring = VringLayout.contiguousBytes(RING);
            for (int p = 0; p < pairs; p++) {
                Virtqueue[] v = new Virtqueue[2];
                for (int q = 0; q < 2; q++) {
                    EventFd kick = EventFd.create();
                    EventFd call = EventFd.create();
                    fds.add(kick);
                    fds.add(call);
                    v[q] = new Virtqueue(VringLayout.contiguous(base + (2L * p + q) * ring, RING), kick, call);
                }
                b.queuePair(new QueuePair(v[0], v[1]));
            }
            return new Guest(tap, fds, b.build());
        }

        static long bytes(int pairs) {
            return 2L * pairs * VringLayout.contiguousBytes(RING);
        }

        @Override
        public void close() {
            fds.forEach(EventFd::close);
            tap.close();
        }
    }

    /** Medians per device, in µs, and the fds one holds. */
    record Cost(double upMicros, double downMicros, double fdsPerDevice) {}

    static Cost measure(int devices, int pairs, EmulatedLoops loops, int threadsBefore) throws Exception {
        long slot = (Guest.bytes(pairs) + 4095) & ~4095L;
        try (MemoryTable memory = MemoryTable.builder().region(0, slot * devices).build()) {
            List<Guest> guests = new ArrayList<>();
            List<EmulatedNetDevice> running = new ArrayList<>();
            long[] up = new long[devices];
            long[] down = new long[devices];
            int fds = 0;
            try {
                for (int d = 0; d < devices; d++) {
                    guests.add(Guest.make(memory, d * slot, pairs, loops));
                }
                for (int d = 0; d < devices; d++) {
                    int before = OpenFds.snapshot().size();
                    long t0 = System.nanoTime();
                    running.add(EmulatedNetDevice.start(guests.get(d).config()));
                    up[d] = System.nanoTime() - t0;
                    fds += OpenFds.snapshot().size() - before;
                }
                assertEquals(devices * pairs, loops.pairs());
                assertTrue(Thread.activeCount() <= threadsBefore + loops.threads(),
                        Thread.activeCount() + " threads for " + devices + " devices of " + pairs + " pairs on "
                                + loops.threads() + " loops (" + threadsBefore + " before)");
                for (int d = 0; d < devices; d++) {
                    long t0 = System.nanoTime();
                    running.get(d).close();
                    down[d] = System.nanoTime() - t0;
                }
                assertEquals(0, loops.pairs(), "every pair left its loop");
            } finally {
                running.forEach(EmulatedNetDevice::close);
                guests.forEach(Guest::close);
            }
            return new Cost(median(up) / 1e3, median(down) / 1e3, (double) fds / devices);
        }
    }

    static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2.0;
    }

    static long loopThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("vhostnet-emulated-own")).count();
    }

    @Test
    void sixtyFourDevicesOfEightPairsRunOnOneLoopPerCoreAndLeaveNoThreadOrFdBehind() throws Exception {
        assumeTrue(Tun.isAvailable(), () -> "needs /dev/net/tun: " + Tun.unavailabilityCause().getMessage());
        assumeTrue(new com.sun.security.auth.module.UnixSystem().getUid() == 0, "needs root to create taps");
        Set<Integer> fdsBefore = OpenFds.snapshot();
        int threadsBefore = Thread.activeCount();
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
                "emulated backend, %d loops (one per core), ring %d; per device, median:%n"
                        + "| devices | pairs | up µs | down µs | fds held | loop threads |%n", CORES, RING));
        try (EmulatedLoops loops = EmulatedLoops.create(CORES)) {
            measure(4, 8, loops, threadsBefore); // warm-up: class loading, JIT, the loops' threads
            for (int devices : new int[] {1, 64}) {
                for (int pairs : new int[] {1, 8}) {
                    Cost c = measure(devices, pairs, loops, threadsBefore);
                    table.append(String.format(Locale.ROOT, "| %d | %d | %.0f | %.0f | %.0f | %d |%n",
                            devices, pairs, c.upMicros(), c.downMicros(), c.fdsPerDevice(), loopThreads()));
                    assertEquals(5.0 * pairs, c.fdsPerDevice(), 0.0,
                            "a pair holds its own duplicate of its tap queue and four eventfds, nothing more");
                    assertTrue(loopThreads() <= CORES, loopThreads() + " loop threads");
                }
            }
        }
        System.out.print(table);
        assertEquals(0, loopThreads(), "closing the loops ended their threads");
        assertEquals("", OpenFds.leakedSince(fdsBefore), "descriptors left open");
    }
}
