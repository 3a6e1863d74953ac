package dev.vhostnet.bench;

import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.vhostuser.VhostUserNetBackend;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * This project's vhost-user back-end, {@link VhostUserNetBackend} (what DPDK's vhost library is to
 * testpmd; {@code vhostnet vhost-user} runs it), in this process: listening on the socket, moving
 * frames into a tap of its own ({@code vpj…}, 12-byte vnet header, up) in the host's network
 * namespace. Its threads — the event loops the device runs on and the vhost-user accept and session
 * threads, the only ones of this process named so — are pinned to one CPU while it serves, and their
 * CPU time is its CPU (the JIT's and the collector's are not).
 */
final class VhostnetBackEnd implements VhostUserBackEnd {
    /** The {@code comm} prefixes of its threads: {@code EmulatedLoops}' event loops, the vhost-user threads. */
    private static final String[] THREADS = {"vhostnet-emulat", "vhost-user-"};

    private final TapDevice tap;
    private final VhostUserNetBackend backend;
    private final int cpu;
    private List<Path> threads = List.of();
    private CpuAffinity.Pins pins;

    private VhostnetBackEnd(TapDevice tap, VhostUserNetBackend backend, int cpu) {
        this.tap = tap;
        this.backend = backend;
        this.cpu = cpu;
    }

    /** Listens on {@code socket}, its device to send as {@code txCopy} says, its data path to run on {@code cpu}. */
    static VhostnetBackEnd start(Path socket, TxCopy txCopy, int cpu) throws Exception {
        TapDevice tap = TapDevice.open(TapConfig.builder()
                .name(Names.random("vpj"))
                .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                .up(true)
                .build());
        try {
            return new VhostnetBackEnd(
                    tap, VhostUserNetBackend.on(tap).txCopy(txCopy).listen(socket), cpu);
        } catch (Exception | Error e) {
            tap.close();
            throw e;
        }
    }

    @Override
    public BenchPath path() {
        return BenchPath.VHOST_USER;
    }

    @Override
    public String tap() {
        return tap.name();
    }

    @Override
    public void serving(Duration patience) throws Exception {
        if (!backend.awaitRunning(patience)) {
            throw new IOException("the front-end did not get the device running on " + backend.socket() + " in "
                    + patience.toSeconds() + " s; connections dropped: " + backend.drops());
        }
        threads = ThreadCpu.ownThreadsNamed(THREADS);
        pins = CpuAffinity.pin(threads, cpu);
    }

    @Override
    public long cpuNanos() {
        return ThreadCpu.nanos(threads);
    }

    @Override
    public void close() {
        try {
            backend.close();
        } finally {
            try {
                if (pins != null) {
                    pins.close();
                }
            } finally {
                tap.close();
            }
        }
    }
}
