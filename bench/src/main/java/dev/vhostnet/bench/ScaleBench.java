package dev.vhostnet.bench;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Many devices on one host: starts {@code devices} devices of {@code pairs} queue pairs each on one
 * backend, one after another, then closes them; reports the median time a device takes to come up
 * and to go, the descriptors one holds, and the threads working while they all run. What a VMM
 * makes before a device starts (its tap, its eventfds, guest memory) is made beforehand and not timed.
 * Needs root (taps).
 */
public final class ScaleBench {
    static final int RING = 64;
    static final FeatureSet FEATURES =
            FeatureSet.of(VirtioFeature.VERSION_1, VirtioFeature.MRG_RXBUF, VirtioFeature.EVENT_IDX);

    private ScaleBench() {}

    /**
     * Per device, medians: {@code up}/{@code down} in µs, {@code fds} the descriptors a running device
     * adds; {@code threads} of this process and {@code kernelThreads} (vhost workers outside it) with all running.
     */
    public record Result(
            BackendChoice.Kind kind,
            int devices,
            int pairs,
            double upMicros,
            double downMicros,
            double fds,
            int threads,
            int kernelThreads) {}

    /** What a VMM makes for a device before starting it: a multiqueue tap and two eventfds per vring. */
    private record Guest(TapDevice tap, List<EventFd> fds, NetDeviceConfig config) {
        static Guest make(MemoryTable memory, long base, int pairs, EmulatedLoops loops) throws Exception {
            TapDevice tap = TapDevice.open(TapConfig.builder()
                    .name(Names.random("sb"))
                    .queues(pairs)
                    .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                    .build());
            List<EventFd> fds = new ArrayList<>();
            NetDeviceConfig.Builder b = NetDeviceConfig.builder()
                    .memory(memory)
                    .tap(tap)
                    .driverFeatures(FEATURES)
                    .loops(loops);
            for (int p = 0; p < pairs; p++) {
                Virtqueue[] v = new Virtqueue[2];
                for (int q = 0; q < 2; q++) {
                    EventFd kick = EventFd.create();
                    fds.add(kick);
                    EventFd call = EventFd.create();
                    fds.add(call);
                    v[q] = new Virtqueue(VringLayout.contiguous(base + (2L * p + q) * ringBytes(), RING), kick, call);
                }
                b.queuePair(new QueuePair(v[0], v[1]));
            }
            return new Guest(tap, fds, b.build());
        }

        static long ringBytes() {
            return (VringLayout.contiguousBytes(RING) + 4095) & ~4095L;
        }

        void close() {
            fds.forEach(EventFd::close);
            tap.close();
        }
    }

    /** One measurement; the emulated backend runs on {@code loops}. */
    public static Result measure(BackendChoice.Kind kind, int devices, int pairs, EmulatedLoops loops)
            throws Exception {
        long slot = 2L * pairs * Guest.ringBytes();
        try (MemoryTable memory =
                MemoryTable.builder().region(0, slot * devices).build()) {
            List<Guest> guests = new ArrayList<>();
            List<NetDevice> running = new ArrayList<>();
            long[] up = new long[devices];
            long[] down = new long[devices];
            long fds = 0;
            int threads;
            int kernelThreads;
            try {
                for (int d = 0; d < devices; d++) {
                    guests.add(Guest.make(memory, d * slot, pairs, loops));
                }
                for (int d = 0; d < devices; d++) {
                    int before = count("/proc/self/fd");
                    long t0 = System.nanoTime();
                    running.add(NetDevices.start(guests.get(d).config(), kind, VringBases.zero(pairs)));
                    up[d] = System.nanoTime() - t0;
                    fds += count("/proc/self/fd") - before;
                }
                threads = count("/proc/self/task");
                kernelThreads = ThreadCpu.vhostWorkers().get(0).size();
                for (int d = devices - 1; d >= 0; d--) {
                    long t0 = System.nanoTime();
                    running.remove(d).close();
                    down[d] = System.nanoTime() - t0;
                }
            } finally {
                running.forEach(NetDevice::close);
                guests.forEach(Guest::close);
            }
            return new Result(
                    kind,
                    devices,
                    pairs,
                    median(up) / 1e3,
                    median(down) / 1e3,
                    (double) fds / devices,
                    threads,
                    kernelThreads);
        }
    }

    private static int count(String dir) {
        String[] names = new File(dir).list();
        return names == null ? 0 : names.length;
    }

    static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2.0;
    }

    /** The table of results, in Markdown. */
    public static String markdown(List<Result> results) {
        StringBuilder s = new StringBuilder(String.format(
                Locale.ROOT,
                "%d cores, rings of %d; per device, median:%n%n| backend | devices | pairs | up µs | down µs | fds held "
                        + "| threads of this process, all running | vhost kernel threads |%n|---|--:|--:|--:|--:|--:|--:|--:|%n",
                Runtime.getRuntime().availableProcessors(),
                RING));
        for (Result r : results) {
            s.append(String.format(
                    Locale.ROOT,
                    "| %s | %d | %d | %.0f | %.0f | %.0f | %d | %d |%n",
                    r.kind(),
                    r.devices(),
                    r.pairs(),
                    r.upMicros(),
                    r.downMicros(),
                    r.fds(),
                    r.threads(),
                    r.kernelThreads()));
        }
        return s.toString();
    }

    /** Measures 1 and 64 devices of 1 and 8 pairs on each backend here (the kernel one where /dev/vhost-net exists). */
    public static void main(String[] args) throws Exception {
        List<Result> results = new ArrayList<>();
        List<BackendChoice.Kind> kinds = new ArrayList<>(List.of(BackendChoice.Kind.EMULATED));
        if (VhostNet.isAvailable()) {
            kinds.add(0, BackendChoice.Kind.KERNEL);
        }
        EmulatedLoops loops = EmulatedLoops.shared();
        for (BackendChoice.Kind kind : kinds) {
            measure(kind, 4, 8, loops); // warm-up: class loading, the JIT, the loops' threads
            for (int devices : new int[] {1, 64}) {
                for (int pairs : new int[] {1, 8}) {
                    results.add(measure(kind, devices, pairs, loops));
                }
            }
        }
        System.out.print(markdown(results));
    }
}
