package dev.vhostnet.virtionet;

import com.google.common.collect.ImmutableMap;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a {@link VirtioNetDevice} refused or had to report, one counter per rule, and the last
 * refusal in words: the device-model counterpart of the data queues' {@code QueueCounters} and
 * the transport's {@code TransportCounters}. Read from any thread.
 */
public final class VirtioNetCounters {
    /** Each thing the device refuses or reports, with its counter's name. */
    public enum Refusal {
        /** A feature subset the device cannot serve: {@code FEATURES_OK} not kept. */
        FEATURES("refusedFeatures"),
        /** A driver write to the read-only configuration space (virtio 1.x: all of it). */
        CONFIG_WRITE("refusedConfigWrites"),
        /** {@code DRIVER_OK} without every queue of the pairs in use enabled, or a ring outside guest memory. */
        QUEUES("refusedQueues"),
        /** The backend could not start on the driver's queues ({@code DEVICE_NEEDS_RESET}). */
        BACKEND_START("backendStartFailures"),
        /** A vring broken by the driver (emulated) or a vhost vring error ({@code DEVICE_NEEDS_RESET}). */
        VRING_ERROR("vringErrors"),
        /** A control chain without a 2-byte header to read or a status byte to write: the control queue breaks, as QEMU's {@code virtio_error}. */
        CTRL_MISSING_HEADERS("ctrlMissingHeaders"),
        /** A control chain the device's ring checks refused (index, address, length, loop): the control queue breaks. */
        CTRL_BROKEN_RING("ctrlBrokenRing"),
        /** A command longer than any command can be. */
        CTRL_TOO_LONG("ctrlTooLong"),
        /** A class this device does not know, or whose feature was not negotiated. */
        CTRL_CLASS("ctrlUnsupportedClass"),
        /** A command its class does not have (or its feature was not negotiated). */
        CTRL_COMMAND("ctrlUnsupportedCommand"),
        /** A command whose payload is not the size the command has. */
        CTRL_LENGTH("ctrlBadLength"),
        /** {@code VQ_PAIRS_SET} outside 1..max_virtqueue_pairs. */
        CTRL_PAIRS("ctrlPairsOutOfRange"),
        /** A MAC table whose entry counts do not match its length. */
        CTRL_MAC_TABLE("ctrlBadMacTable"),
        /** {@code MAC_ADDR_SET} with a multicast or all-zero address. */
        CTRL_MAC_ADDR("ctrlBadMacAddress"),
        /** Guest offloads that were not negotiated. */
        CTRL_OFFLOADS("ctrlOffloadsNotNegotiated"),
        /** {@code ANNOUNCE_ACK} with no announcement pending. */
        CTRL_ANNOUNCE("ctrlNoAnnouncePending"),
        /** A valid command the backend or tap could not carry out. */
        CTRL_BACKEND("ctrlBackendFailures");

        private final String counterName;

        Refusal(String counterName) {
            this.counterName = counterName;
        }

        public String counterName() {
            return counterName;
        }
    }

    private final Map<Refusal, AtomicLong> refused = new EnumMap<>(Refusal.class);
    private final AtomicLong commandsOk = new AtomicLong();
    private final AtomicLong activations = new AtomicLong();
    private final AtomicLong resets = new AtomicLong();
    private volatile String lastRefusal = "";

    VirtioNetCounters() {
        for (Refusal r : Refusal.values()) {
            refused.put(r, new AtomicLong());
        }
    }

    void count(Refusal r, String what) {
        refused.get(r).incrementAndGet();
        lastRefusal = r.counterName() + ": " + what;
    }

    void commandOk() {
        commandsOk.incrementAndGet();
    }

    void activated() {
        activations.incrementAndGet();
    }

    void reset() {
        resets.incrementAndGet();
    }

    public long get(Refusal r) {
        return refused.get(r).get();
    }

    /** Everything refused or reported, all rules together. */
    public long refusals() {
        return refused.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /** Control commands answered {@code VIRTIO_NET_OK}. */
    public long commandsOk() {
        return commandsOk.get();
    }

    /** Times the backend started on {@code DRIVER_OK}. */
    public long activations() {
        return activations.get();
    }

    /** Times a running device was reset. */
    public long resets() {
        return resets.get();
    }

    /** The last refusal, its counter's name first; empty if none. */
    public String lastRefusal() {
        return lastRefusal;
    }

    /** Every non-zero counter by name. */
    public ImmutableMap<String, Long> snapshot() {
        ImmutableMap.Builder<String, Long> b = ImmutableMap.builder();
        b.put("activations", activations()).put("resets", resets()).put("commandsOk", commandsOk());
        refused.forEach((r, n) -> {
            if (n.get() != 0) {
                b.put(r.counterName(), n.get());
            }
        });
        return b.buildOrThrow();
    }

    @Override
    public String toString() {
        return snapshot() + (lastRefusal.isEmpty() ? "" : ", last: " + lastRefusal);
    }
}
