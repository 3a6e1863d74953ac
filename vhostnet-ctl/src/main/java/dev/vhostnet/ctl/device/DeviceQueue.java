package dev.vhostnet.ctl.device;

import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_F_NO_INTERRUPT;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_IDX;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_RING;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_ADDR;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_INDIRECT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_NEXT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_WRITE;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_LEN;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_NEXT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_ELEM_LEN;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_ELEM_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_F_NO_NOTIFY;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_IDX;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_RING;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.device.QueueCounters.Event;
import dev.vhostnet.ctl.ring.LittleEndian;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device side of one split virtqueue in guest memory: pops the chains the driver made
 * available, returns them through the used ring, and decides when to interrupt the driver and
 * whether it should kick — what QEMU's {@code virtqueue_pop} / {@code virtqueue_push} /
 * {@code virtio_should_notify} do for a split ring.
 *
 * <p>The driver is untrusted. Every index, address, length, chain length and indirect table is
 * checked before use, each rule by its own check with its own counter ({@link Violation},
 * {@link QueueCounters}). The first violation marks the queue broken (the caller should set
 * {@code VIRTIO_CONFIG_S_NEEDS_RESET} and raise a configuration interrupt): a chain that was
 * popped but turns out bad is returned to the driver with used length 0, as Firecracker does,
 * the violation is logged (at WARN the first time in the queue's life, then at DEBUG), and
 * {@link #pop()} returns nothing until {@link #reset()}.
 * Nothing the driver writes makes this class throw or touch memory outside the ranges it checked:
 * the rings are checked to lie in guest memory at construction, every buffer and indirect table
 * when a chain is walked, and every copy goes through {@link MemoryTable}, which checks again.
 *
 * <p>One thread owns a queue (the device's event loop); only {@link #counters()} may be read from
 * other threads. Ring fields are little-endian, as the virtio spec has them ({@link LittleEndian}).
 */
public final class DeviceQueue {
    private static final Logger log = LoggerFactory.getLogger(DeviceQueue.class);
    private static final long U32_MAX = 0xffff_ffffL;

    private final MemoryTable memory;
    private final VringLayout layout;
    private final FeatureSet features;
    private final String name;
    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final boolean indirectDesc;
    private final boolean notifyOnEmpty;
    /**
     * The three parts of the ring as direct little-endian views, made once ({@code vring_desc},
     * {@code vring_avail} with {@code used_event}, {@code vring_used} with {@code avail_event}):
     * no address lookup or native call per access. Valid while the memory is open; a device stops
     * its queues before its memory is closed.
     */
    private final ByteBuffer descs;

    private final ByteBuffer avail;
    private final ByteBuffer used;
    private final int usedEventOffset;
    private final int availEventOffset;
    private final QueueCounters counters = new QueueCounters();
    private final byte[] descBytes = new byte[VRING_DESC_SIZE];
    private final ByteBuffer desc = ByteBuffer.wrap(descBytes).order(ByteOrder.LITTLE_ENDIAN);

    private int nextAvail;
    private int nextUsed;
    private int inFlight;
    private int pendingUsed;
    private boolean notificationsEnabled = true;
    private int signalledUsed;
    private boolean signalledUsedValid;
    private Violation violation;
    private String brokenReason;
    private boolean warned;

    // The descriptor being looked at: read once from guest memory, then only these copies are used.
    private long dAddr;
    private long dLen;
    private int dFlags;
    private int dNext;
    private String detail;

    /**
     * A queue over {@code layout} in {@code memory} with the negotiated {@code features}
     * ({@code INDIRECT_DESC}, {@code EVENT_IDX} and {@code NOTIFY_ON_EMPTY} matter here);
     * {@code name} appears in logs ("rx0", "queue 1 (TX)"). Checks that each ring lies inside
     * one region of guest memory. Starts at index 0: see {@link #setNextAvail}.
     */
    public DeviceQueue(MemoryTable memory, VringLayout layout, FeatureSet features, String name) {
        this.memory = Preconditions.checkNotNull(memory, "memory");
        this.layout = Preconditions.checkNotNull(layout, "layout");
        this.name = Preconditions.checkNotNull(name, "name");
        this.features = Preconditions.checkNotNull(features, "features");
        layout.checkIn(memory, name);
        this.size = layout.size();
        this.mask = size - 1;
        this.eventIdx = features.has(VirtioFeature.EVENT_IDX);
        this.indirectDesc = features.has(VirtioFeature.INDIRECT_DESC);
        this.notifyOnEmpty = features.has(VirtioFeature.NOTIFY_ON_EMPTY);
        this.descs = view(memory, layout.descGpa(), VringLayout.descBytes(size));
        this.avail = view(memory, layout.availGpa(), VringLayout.availBytes(size));
        this.used = view(memory, layout.usedGpa(), VringLayout.usedBytes(size));
        this.usedEventOffset = VRING_AVAIL_RING + 2 * size;
        this.availEventOffset = VRING_USED_RING + VRING_USED_ELEM_SIZE * size;
    }

    private static ByteBuffer view(MemoryTable memory, long gpa, long length) {
        return memory.view(gpa, (int) length).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int u16(ByteBuffer part, int offset) {
        return part.getShort(offset) & 0xffff;
    }

    public String name() {
        return name;
    }

    public VringLayout layout() {
        return layout;
    }

    public FeatureSet features() {
        return features;
    }

    public int size() {
        return size;
    }

    /** The index of the next available ring entry to pop ({@code VHOST_GET_VRING_BASE}). */
    public int nextAvail() {
        return nextAvail;
    }

    /** The used index as last published to the driver (entries pushed but not flushed excluded). */
    public int nextUsed() {
        return nextUsed;
    }

    /** Chains popped and not yet returned by a {@link #flushUsed()}. */
    public int inFlight() {
        return inFlight;
    }

    /**
     * Resumes at available index {@code base} ({@code VHOST_SET_VRING_BASE}: the value a previous
     * backend's {@code VHOST_GET_VRING_BASE} gave). The used index is taken from the used ring in
     * guest memory, as vhost does when a backend starts; chains between the two are counted in
     * flight. A distance larger than the ring size cannot come from a working driver and marks
     * the queue broken ({@link Violation#IN_FLIGHT_EXCEEDS_SIZE}), as QEMU refuses to load it.
     */
    public void setNextAvail(int base) {
        Preconditions.checkArgument(base >= 0 && base <= 0xffff, "ring base must be 0..65535, not %s", base);
        nextAvail = base;
        nextUsed = u16(used, VRING_USED_IDX);
        pendingUsed = 0;
        signalledUsedValid = false;
        int distance = (nextAvail - nextUsed) & 0xffff;
        if (distance > size) {
            inFlight = 0;
            markBroken(
                    Violation.IN_FLIGHT_EXCEEDS_SIZE,
                    String.format("base %d is %d entries past used index %d", base, distance, nextUsed));
        } else {
            inFlight = distance;
        }
    }

    /** Whether the driver has made nothing available past {@link #nextAvail()} (false once broken: nothing to pop). */
    public boolean isEmpty() {
        return violation != null || availIdx() == nextAvail;
    }

    /** Pops the next available chain, checked; empty when there is none or the queue is (now) broken. */
    public Optional<DescriptorChain> pop() {
        DescriptorChain chain = new DescriptorChain();
        return popInto(chain) ? Optional.of(chain) : Optional.empty();
    }

    /**
     * {@link #pop()} into a reused holder, so a data path pops without allocating. Returns false
     * when nothing was popped (the holder's contents are then meaningless); check
     * {@link #isBroken()} to tell an empty ring from a broken one.
     */
    public boolean popInto(DescriptorChain chain) {
        Preconditions.checkNotNull(chain, "chain");
        if (violation != null) {
            return false;
        }
        int availIdx = availIdx();
        int pending = (availIdx - nextAvail) & 0xffff;
        if (pending == 0) {
            return false;
        }
        if (pending > size) {
            markBroken(
                    Violation.AVAIL_IDX_JUMP,
                    String.format(
                            "available index %d is %d entries past %d, ring size %d",
                            availIdx, pending, nextAvail, size));
            return false;
        }
        // The entries and descriptors behind avail->idx are read only after it.
        VarHandle.acquireFence();
        if (inFlight >= size) {
            markBroken(
                    Violation.IN_FLIGHT_EXCEEDS_SIZE,
                    String.format("%d chains in flight, ring size %d", inFlight, size));
            return false;
        }
        int head = u16(avail, VRING_AVAIL_RING + 2 * (nextAvail & mask));
        nextAvail = (nextAvail + 1) & 0xffff;
        if (eventIdx && notificationsEnabled) {
            used.putShort(availEventOffset, (short) nextAvail);
        }
        if (head >= size) {
            markBroken(
                    Violation.HEAD_OUT_OF_RANGE,
                    String.format(
                            "available entry %d names head %d, ring size %d", (nextAvail - 1) & 0xffff, head, size));
            return false;
        }
        inFlight++;
        Violation v = walk(head, chain);
        counters.add(Event.DESCRIPTORS_READ, chain.descriptors());
        if (v != null) {
            pushUsed(head, 0);
            flushUsed();
            counters.count(Event.BAD_CHAINS_RETURNED);
            markBroken(v, "chain at head " + head + ": " + detail);
            return false;
        }
        counters.count(Event.CHAINS_POPPED);
        return true;
    }

    private Violation walk(int head, DescriptorChain chain) {
        chain.start(memory, head);
        long table = layout.descGpa();
        int max = size;
        boolean inIndirect = false;
        readDescriptor(table, head);
        chain.countDescriptor();
        if ((dFlags & VRING_DESC_F_INDIRECT) != 0) {
            Violation v = checkIndirect();
            if (v != null) {
                return v;
            }
            chain.markIndirect();
            table = dAddr;
            max = (int) (dLen / VRING_DESC_SIZE);
            inIndirect = true;
            readDescriptor(table, 0);
            chain.countDescriptor();
        }
        // TTL: a table of max entries holds no chain longer than max, so the max-th NEXT is a loop.
        // Checked before reading, so no walk reads more than max descriptors of a table.
        int visited = 0;
        boolean writableSeen = false;
        long total = 0;
        while (true) {
            visited++;
            if ((dFlags & VRING_DESC_F_INDIRECT) != 0) {
                detail = "descriptor " + visited + " of the chain has INDIRECT";
                return inIndirect ? Violation.NESTED_INDIRECT : Violation.INDIRECT_NOT_AT_HEAD;
            }
            Violation v = checkBuffer();
            if (v != null) {
                return v;
            }
            total += dLen;
            if (total > U32_MAX) {
                detail = "total length " + total;
                return Violation.TOTAL_LENGTH_OVERFLOW;
            }
            if ((dFlags & VRING_DESC_F_WRITE) != 0) {
                writableSeen = true;
                chain.addWritable(dAddr, dLen);
            } else if (writableSeen) {
                detail = "descriptor " + visited + " is readable after a writable one";
                return Violation.READABLE_AFTER_WRITABLE;
            } else {
                chain.addReadable(dAddr, dLen);
            }
            if ((dFlags & VRING_DESC_F_NEXT) == 0) {
                return null;
            }
            if (dNext >= max) {
                detail = String.format("next %d in a table of %d", dNext, max);
                return Violation.NEXT_OUT_OF_RANGE;
            }
            if (visited == max) {
                detail = String.format("descriptor %d of a table of %d has NEXT: a loop", visited, max);
                return Violation.CHAIN_TOO_LONG;
            }
            readDescriptor(table, dNext);
            chain.countDescriptor();
        }
    }

    private Violation checkIndirect() {
        Violation v = indirectViolation();
        if (v != null) {
            detail = String.format("indirect table [gpa 0x%x, +%d)", dAddr, dLen);
        }
        return v;
    }

    /** The first rule an indirect descriptor breaks, or null; builds no message (the data path allocates nothing). */
    private Violation indirectViolation() {
        if (!indirectDesc) {
            return Violation.INDIRECT_NOT_NEGOTIATED;
        }
        if ((dFlags & VRING_DESC_F_NEXT) != 0) {
            return Violation.INDIRECT_WITH_NEXT;
        }
        if (dLen == 0) {
            return Violation.INDIRECT_EMPTY;
        }
        if (dLen % VRING_DESC_SIZE != 0) {
            return Violation.INDIRECT_LENGTH_NOT_MULTIPLE;
        }
        if (dLen / VRING_DESC_SIZE > size) {
            return Violation.INDIRECT_TOO_LARGE;
        }
        if (!memory.contains(dAddr, dLen)) {
            return Violation.INDIRECT_OUTSIDE_MEMORY;
        }
        return null;
    }

    private Violation checkBuffer() {
        if (dLen == 0) {
            detail = String.format("buffer at gpa 0x%x", dAddr);
            return Violation.ZERO_LENGTH;
        }
        if (memory.contains(dAddr, dLen)) {
            return null;
        }
        detail = String.format("buffer [gpa 0x%x, +%d)", dAddr, dLen);
        if (Long.compareUnsigned(dAddr + dLen, dAddr) < 0) {
            return Violation.ADDRESS_WRAPS;
        }
        return memory.contains(dAddr, 1) ? Violation.CROSSES_REGION_END : Violation.OUTSIDE_MEMORY;
    }

    /** Reads descriptor {@code index} of the table at {@code table}, already checked to hold it, once. */
    /** Reads descriptor {@code index} of {@code table} once: the ring's own table from its view, an indirect one through the memory table. */
    private void readDescriptor(long table, int index) {
        ByteBuffer from = descs;
        int at = VRING_DESC_SIZE * index;
        if (table != layout.descGpa()) {
            memory.read(table + (long) VRING_DESC_SIZE * index, descBytes, 0, VRING_DESC_SIZE);
            from = desc;
            at = 0;
        }
        dAddr = from.getLong(at + VRING_DESC_ADDR);
        dLen = from.getInt(at + VRING_DESC_LEN) & U32_MAX;
        dFlags = from.getShort(at + VRING_DESC_FLAGS) & 0xffff;
        dNext = from.getShort(at + VRING_DESC_NEXT) & 0xffff;
    }

    /**
     * Gives back the last {@code count} popped chains, not yet pushed: the next pops return them
     * again (QEMU's {@code virtqueue_rewind}, Firecracker's {@code undo_pop}) — for a receive path
     * that popped buffers for a frame they turn out too small for.
     */
    public void rewind(int count) {
        Preconditions.checkArgument(
                count >= 0 && count <= inFlight - pendingUsed,
                "%s: cannot rewind %s chains, %s popped and not pushed",
                name,
                count,
                inFlight - pendingUsed);
        nextAvail = (nextAvail - count) & 0xffff;
        inFlight -= count;
    }

    /**
     * Writes a used element for chain {@code head} with {@code len} bytes written (an unsigned
     * 32-bit value), not yet visible to the driver: {@link #flushUsed()} publishes it
     * ({@code virtqueue_fill}).
     */
    public void pushUsed(int head, int len) {
        Preconditions.checkArgument(head >= 0 && head < size, "head %s is not in a ring of %s", head, size);
        Preconditions.checkState(
                pendingUsed < inFlight, "%s: more used entries than chains in flight (%s)", name, inFlight);
        int elem = VRING_USED_RING + VRING_USED_ELEM_SIZE * ((nextUsed + pendingUsed) & mask);
        used.putInt(elem, head);
        used.putInt(elem + VRING_USED_ELEM_LEN, len);
        pendingUsed++;
        counters.count(Event.USED_PUSHED);
    }

    /**
     * Publishes the pushed used elements: a release fence, then the used index
     * ({@code virtqueue_flush}). Then ask {@link #needsNotification()} whether to interrupt.
     */
    public void flushUsed() {
        if (pendingUsed == 0) {
            return;
        }
        VarHandle.releaseFence();
        int old = nextUsed;
        int updated = (old + pendingUsed) & 0xffff;
        used.putShort(VRING_USED_IDX, (short) updated);
        nextUsed = updated;
        inFlight -= pendingUsed;
        pendingUsed = 0;
        // The index passed the last one signalled by a whole wrap: the old one no longer tells anything.
        if ((short) (updated - signalledUsed) < ((updated - old) & 0xffff)) {
            signalledUsedValid = false;
        }
        counters.count(Event.USED_FLUSHES);
    }

    /**
     * Whether the driver wants an interrupt for what was flushed since the last time this returned
     * ({@code virtio_should_notify} for a split ring): with {@code NOTIFY_ON_EMPTY}, always when
     * nothing is in flight and the ring is empty; with {@code EVENT_IDX}, when the used index
     * passed {@code used_event} ({@link #needEvent}); otherwise unless the driver set
     * {@code VRING_AVAIL_F_NO_INTERRUPT}. With {@code EVENT_IDX} it remembers the index it
     * answered for, so call it once per interrupt decision.
     */
    public boolean needsNotification() {
        // The used entries and index must be visible before used_event / flags are read.
        VarHandle.fullFence();
        boolean notify;
        if (notifyOnEmpty && inFlight == 0 && isEmpty()) {
            notify = true;
        } else if (!eventIdx) {
            notify = (u16(avail, VRING_AVAIL_FLAGS) & VRING_AVAIL_F_NO_INTERRUPT) == 0;
        } else {
            boolean valid = signalledUsedValid;
            signalledUsedValid = true;
            int old = signalledUsed;
            signalledUsed = nextUsed;
            notify = !valid || needEvent(u16(avail, usedEventOffset), nextUsed, old);
        }
        counters.count(notify ? Event.NOTIFICATIONS_NEEDED : Event.NOTIFICATIONS_SUPPRESSED);
        return notify;
    }

    /**
     * {@code vring_need_event}: whether moving an index from {@code old} to {@code updated}
     * passed {@code event}, all 16-bit and wrapping.
     */
    public static boolean needEvent(int event, int updated, int old) {
        return ((updated - event - 1) & 0xffff) < ((updated - old) & 0xffff);
    }

    /**
     * Asks the driver not to kick while the device is busy popping: {@code VRING_USED_F_NO_NOTIFY},
     * or with {@code EVENT_IDX} no longer moving {@code avail_event} forward.
     */
    public void disableNotifications() {
        notificationsEnabled = false;
        if (!eventIdx) {
            used.putShort(VRING_USED_FLAGS, (short) VRING_USED_F_NO_NOTIFY);
        }
    }

    /**
     * Asks the driver to kick again, then looks once more: returns true when the ring is still
     * empty (safe to wait for a kick), false when the driver made buffers available meanwhile,
     * which will not be kicked for — pop them (and call this again when done).
     */
    public boolean enableNotifications() {
        notificationsEnabled = true;
        if (eventIdx) {
            used.putShort(availEventOffset, (short) nextAvail);
        } else {
            used.putShort(VRING_USED_FLAGS, (short) 0);
        }
        // The flag / avail_event must be visible before avail->idx is read again.
        VarHandle.fullFence();
        return isEmpty();
    }

    public boolean notificationsEnabled() {
        return notificationsEnabled;
    }

    public boolean isBroken() {
        return violation != null;
    }

    /** The rule whose breaking broke the queue. */
    public Optional<Violation> violation() {
        return Optional.ofNullable(violation);
    }

    /** What broke the queue, in words, with the offending values. */
    public Optional<String> brokenReason() {
        return Optional.ofNullable(brokenReason);
    }

    public QueueCounters counters() {
        return counters;
    }

    /**
     * Device reset: indices back to 0, nothing in flight, notifications on, not broken. Guest
     * memory is not written (the driver sets up its rings again). Counters are kept.
     */
    public void reset() {
        nextAvail = 0;
        nextUsed = 0;
        inFlight = 0;
        pendingUsed = 0;
        notificationsEnabled = true;
        signalledUsed = 0;
        signalledUsedValid = false;
        violation = null;
        brokenReason = null;
    }

    private int availIdx() {
        return u16(avail, VRING_AVAIL_IDX);
    }

    private void markBroken(Violation v, String what) {
        counters.count(v);
        if (violation != null) {
            return;
        }
        violation = v;
        brokenReason = v.description() + ": " + what;
        // Once per queue at WARN, so a driver that breaks the queue after every reset cannot flood
        // the log; the counters keep counting.
        if (!warned) {
            warned = true;
            log.warn(
                    "virtqueue {} broken by the driver: {} (counter {}); the device needs a reset",
                    name,
                    brokenReason,
                    v.counterName());
        } else {
            log.debug("virtqueue {} broken by the driver again: {} (counter {})", name, brokenReason, v.counterName());
        }
    }

    @Override
    public String toString() {
        return String.format(
                "%s: size %d, next avail %d, next used %d, %d in flight%s",
                name, size, nextAvail, nextUsed, inFlight, violation == null ? "" : ", broken: " + brokenReason);
    }
}
