package dev.vhostnet.ctl.vhost;

import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vring steps of one queue pair in QEMU's order ({@code vhost_virtqueue_start},
 * {@code vhost_net_start}, {@code vhost_virtqueue_stop}) over any {@link VhostBackend} — vhost-net's
 * ioctls or vhost-user's messages, as QEMU's {@code VhostOps} puts both behind one table; where the
 * two differ (attaching the datapath) a {@link VringDatapath} says how. Each failed step is a
 * {@link VhostStepException} naming it and the queue.
 */
public final class VringSetup {
    private static final Logger log = LoggerFactory.getLogger(VringSetup.class);

    private VringSetup() {}

    /** A step: one vhost request. */
    @FunctionalInterface
    public interface Step {
        void run() throws SysException;
    }

    /** What a stop leaves: every vring's base, and the first step that failed ({@code null}: none). */
    public record Detached(VringBases bases, VhostStepException failure) {
        /** Throws the failure, if any. */
        public void throwIfFailed() throws VhostStepException {
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** Runs {@code step}; its failure becomes a {@link VhostStepException} naming {@code name} and {@code queue}. */
    public static void step(String name, String queue, Step step) throws VhostStepException {
        log.debug("{} on {}", name, queue);
        try {
            step.run();
        } catch (SysException e) {
            throw new VhostStepException(name, queue, e);
        }
    }

    /**
     * Programs both vrings of queue pair {@code pair} on {@code b} — per vring {@code SET_VRING_NUM},
     * {@code SET_VRING_BASE} from {@code bases}, {@code SET_VRING_ADDR} (this process's addresses of
     * the rings, the used ring's guest address as log address when {@code log}), {@code SET_VRING_KICK},
     * {@code SET_VRING_CALL}, and {@code SET_VRING_ERR} when {@code errs} is given — then attaches the
     * {@code datapath} to each, then kicks each vring once, so that buffers the driver posted while the
     * device was stopped are seen.
     */
    public static void attach(
            VhostBackend b,
            int pair,
            QueuePair rings,
            MemoryTable memory,
            VringBases bases,
            EventFd[] errs,
            boolean log,
            VringDatapath datapath)
            throws VhostStepException {
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            int vring = v;
            String q = QueuePair.describe(pair, v);
            Virtqueue queue = rings.vring(v);
            int base = bases.get(pair, v);
            step("SET_VRING_NUM", q, () -> b.setVringNum(vring, queue.layout().size()));
            step("SET_VRING_BASE", q, () -> b.setVringBase(vring, base));
            step("SET_VRING_ADDR", q, () -> b.setVringAddr(vring, VringAddress.of(queue.layout(), memory, log)));
            step("SET_VRING_KICK", q, () -> b.setVringKick(vring, queue.kick()));
            step("SET_VRING_CALL", q, () -> b.setVringCall(vring, queue.call()));
            if (errs != null) {
                EventFd err = errs[v];
                step("SET_VRING_ERR", q, () -> b.setVringErr(vring, err));
            }
        }
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            int vring = v;
            step(datapath.request(), QueuePair.describe(pair, v), () -> datapath.attach(vring));
        }
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            Virtqueue queue = rings.vring(v);
            step("kick", QueuePair.describe(pair, v), () -> queue.kick().signal());
        }
    }

    /**
     * {@link #detach}es every pair, {@code backends.get(p)} running {@code rings.get(p)} through
     * {@code datapaths.get(p)}; every vring gets its base whatever fails.
     */
    public static Detached detachAll(
            List<? extends VhostBackend> backends,
            List<QueuePair> rings,
            List<? extends VringDatapath> datapaths,
            MemoryTable memory,
            VringBases bases) {
        VhostStepException first = null;
        for (int p = 0; p < backends.size(); p++) {
            Detached d = detach(backends.get(p), p, rings.get(p), datapaths.get(p), memory, bases);
            bases = d.bases();
            first = first == null ? d.failure() : first;
        }
        return new Detached(bases, first);
    }

    /**
     * Detaches the datapath from both vrings of {@code pair} and takes each vring's next available
     * index ({@code GET_VRING_BASE}; where that fails, the used index in guest memory, as QEMU does)
     * into {@code bases}. Every vring gets its base whatever fails; the first failed detach is kept.
     */
    public static Detached detach(
            VhostBackend b, int pair, QueuePair rings, VringDatapath datapath, MemoryTable memory, VringBases bases) {
        VhostStepException first = null;
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            int vring = v;
            try {
                step(datapath.request(), QueuePair.describe(pair, v), () -> datapath.detach(vring));
            } catch (VhostStepException e) {
                first = first == null ? e : first;
            }
        }
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            int base;
            try {
                base = b.getVringBase(v);
            } catch (SysException e) {
                base = rings.vring(v).layout().usedIndex(memory);
                log.warn(
                        "GET_VRING_BASE on {} failed ({}); resuming from the used index {}",
                        QueuePair.describe(pair, v),
                        e.getMessage(),
                        base);
            }
            bases = bases.with(pair, v, base);
        }
        return new Detached(bases, first);
    }
}
