package dev.vhostnet.ctl.vhost;

import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vring steps of one queue pair in QEMU's order ({@code vhost_virtqueue_start},
 * {@code vhost_net_start}, {@code vhost_virtqueue_stop}) over any {@link VhostBackend} — vhost-net's
 * ioctls or vhost-user's messages, as QEMU's {@code VhostOps} puts both behind one table. Every
 * device class that drives a vhost backend programs its rings through here. Each failed step is a
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
     * {@code SET_VRING_BASE} from {@code bases[pair * 2 + vring]}, {@code SET_VRING_ADDR} (this
     * process's addresses of the rings, the used ring's guest address as log address, the log flag
     * when {@code log}), {@code SET_VRING_KICK}, {@code SET_VRING_CALL}, and {@code SET_VRING_ERR} when
     * {@code errs} is given — then attaches the datapath ({@link VhostBackend#setBackend} with
     * {@code datapathFd}: the tap for vhost-net, the enable of vhost-user), then kicks each vring once,
     * so that buffers the driver posted while the device was stopped are seen.
     */
    public static void attach(VhostBackend b, int pair, QueuePair rings, MemoryTable memory, int[] bases, EventFd[] errs,
            boolean log, int datapathFd) throws VhostStepException {
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            int vring = v;
            String q = QueuePair.describe(pair, v);
            Virtqueue queue = rings.vring(v);
            VringLayout ring = queue.layout();
            int base = bases[pair * 2 + v];
            step("SET_VRING_NUM", q, () -> b.setVringNum(vring, ring.size()));
            step("SET_VRING_BASE", q, () -> b.setVringBase(vring, base));
            step("SET_VRING_ADDR", q, () -> b.setVringAddr(vring,
                    memory.translate(ring.descGpa(), VringLayout.descBytes(ring.size())),
                    memory.translate(ring.usedGpa(), VringLayout.usedBytes(ring.size())),
                    memory.translate(ring.availGpa(), VringLayout.availBytes(ring.size())),
                    log, ring.usedGpa()));
            step("SET_VRING_KICK", q, () -> b.setVringKick(vring, queue.kick()));
            step("SET_VRING_CALL", q, () -> b.setVringCall(vring, queue.call()));
            if (errs != null) {
                EventFd err = errs[v];
                step("SET_VRING_ERR", q, () -> b.setVringErr(vring, err));
            }
        }
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            int vring = v;
            step("NET_SET_BACKEND", QueuePair.describe(pair, v), () -> b.setBackend(vring, datapathFd));
        }
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            Virtqueue queue = rings.vring(v);
            step("kick", QueuePair.describe(pair, v), () -> queue.kick().signal());
        }
    }

    /**
     * {@link #detach}es every pair, {@code backends.get(p)} running {@code rings.get(p)}; every vring
     * gets its base whatever fails, then the first failure is thrown.
     */
    public static void detachAll(java.util.List<? extends VhostBackend> backends, java.util.List<QueuePair> rings,
            MemoryTable memory, int[] bases) throws VhostStepException {
        VhostStepException first = null;
        for (int p = 0; p < backends.size(); p++) {
            try {
                detach(backends.get(p), p, rings.get(p), memory, bases);
            } catch (VhostStepException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * Detaches the datapath from both vrings of {@code pair} ({@link VhostBackend#setBackend} with -1)
     * and saves each vring's next available index in {@code bases[pair * 2 + vring]}
     * ({@code GET_VRING_BASE}; where that fails, the used index in guest memory, as QEMU does). Every
     * vring gets its base whatever fails; the first failed detach is then thrown.
     */
    public static void detach(VhostBackend b, int pair, QueuePair rings, MemoryTable memory, int[] bases)
            throws VhostStepException {
        VhostStepException first = null;
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            int vring = v;
            try {
                step("NET_SET_BACKEND", QueuePair.describe(pair, v), () -> b.setBackend(vring, -1));
            } catch (VhostStepException e) {
                first = first == null ? e : first;
            }
        }
        for (int v = QueuePair.RX; v <= QueuePair.TX; v++) {
            try {
                bases[pair * 2 + v] = b.getVringBase(v);
            } catch (SysException e) {
                bases[pair * 2 + v] = rings.vring(v).layout().usedIndex(memory);
                log.warn("GET_VRING_BASE on {} failed ({}); resuming from the used index {}",
                        QueuePair.describe(pair, v), e.getMessage(), bases[pair * 2 + v]);
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
