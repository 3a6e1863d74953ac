package dev.vhostnet.driver;

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
import dev.vhostnet.ctl.ring.Segment;
import dev.vhostnet.ctl.ring.Used;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.VirtioUapi;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The driver side of one split virtqueue in guest memory, as Linux's {@code virtio_ring.c} (split
 * path) and DPDK's virtio-user do it: a free list of descriptors, chains posted to the available
 * ring, finished chains harvested from the used ring, kick and interrupt suppression with or
 * without {@code VIRTIO_RING_F_EVENT_IDX}.
 *
 * <p>Descriptors carry guest-physical addresses. The free list, the chain links and the tokens are
 * kept in Java, so a device scribbling on the descriptor table cannot corrupt them; a used element
 * naming a descriptor that is not in flight throws {@link IllegalStateException}.
 *
 * <p>Stop and restart: keep this object alive across a device stop. Its state (free list, tokens,
 * next available index, last used index) is unchanged by the stop, and the rings in memory still
 * hold every chain not yet used; restart the device with {@code VHOST_SET_VRING_BASE} set to what
 * {@code VHOST_GET_VRING_BASE} returned (or, if that failed, {@link #usedIdx()}, as QEMU does) and
 * it carries on with the chains this queue has published. {@link Builder#startIndex} starts a
 * fresh queue at another index; tell the device that index as its base.
 *
 * <p>One thread at a time; use only while the {@link MemoryTable} is open.
 */
public final class DriverQueue<T> {
    /** Receives harvested chains without allocating: the token given to {@code add} and the used length. */
    @FunctionalInterface
    public interface UsedHandler<T> {
        void accept(T token, int len);
    }

    private static final VarHandle U16 = MethodHandles.byteBufferViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

    private final MemoryTable memory;
    private final String name;
    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final ByteBuffer desc;
    private final ByteBuffer avail;
    private final ByteBuffer used;
    private final int usedEventOffset;
    private final int availEventOffset;
    private final ByteBuffer indirect;
    private final long indirectGpa;
    private final int indirectEntries;
    private final int[] next;
    private final int[] chainLength;
    private final Object[] tokens;
    private int freeHead;
    private int numFree;
    private int availShadow;
    private int publishedIdx;
    private int kickedIdx;
    private int lastUsedIdx;
    private boolean interruptsEnabled = true;

    private DriverQueue(Builder<T> b) {
        VringLayout layout = b.layout;
        layout.checkIn(b.memory, b.name);
        this.memory = b.memory;
        this.name = b.name;
        this.size = layout.size();
        this.mask = size - 1;
        this.eventIdx = b.features.has(VirtioFeature.EVENT_IDX);
        this.desc = GuestView.of(memory, layout.descGpa(), VringLayout.descBytes(size));
        this.avail = GuestView.of(memory, layout.availGpa(), VringLayout.availBytes(size));
        this.used = GuestView.of(memory, layout.usedGpa(), VringLayout.usedBytes(size));
        this.usedEventOffset = VRING_AVAIL_RING + 2 * size;
        this.availEventOffset = VRING_USED_RING + VRING_USED_ELEM_SIZE * size;
        boolean indirectNegotiated = b.features.has(VirtioFeature.INDIRECT_DESC);
        if (indirectNegotiated && b.indirectEntries > 1) {
            this.indirect = GuestView.of(memory, b.indirectGpa, indirectBytes(size, b.indirectEntries));
            this.indirectGpa = b.indirectGpa;
            this.indirectEntries = b.indirectEntries;
        } else {
            this.indirect = null;
            this.indirectGpa = 0;
            this.indirectEntries = 0;
        }
        this.next = new int[size];
        this.chainLength = new int[size];
        this.tokens = new Object[size];
        for (int i = 0; i < size; i++) {
            next[i] = i + 1;
        }
        this.numFree = size;
        int start = b.startIndex;
        this.availShadow = start;
        this.publishedIdx = start;
        this.kickedIdx = start;
        this.lastUsedIdx = start;
        zero(desc);
        zero(avail);
        zero(used);
        avail.putShort(VRING_AVAIL_IDX, (short) start);
        avail.putShort(usedEventOffset, (short) start);
        used.putShort(VRING_USED_IDX, (short) start);
        used.putShort(availEventOffset, (short) start);
        VarHandle.fullFence();
    }

    /** A queue of {@code layout} in {@code memory}, for the negotiated {@code features}. */
    public static <T> Builder<T> builder(MemoryTable memory, VringLayout layout, FeatureSet features) {
        return new Builder<>(memory, layout, features);
    }

    /** Bytes of the indirect area for a ring of {@code ringSize}: one table of {@code tableEntries} per descriptor. */
    public static long indirectBytes(int ringSize, int tableEntries) {
        return (long) ringSize * tableEntries * VRING_DESC_SIZE;
    }

    /**
     * {@code vring_need_event} of {@code <linux/virtio_ring.h>}: whether moving an index from
     * {@code oldIdx} to {@code newIdx} passes {@code eventIdx}, all modulo 2^16.
     */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    /** Whether a chain of {@code segments} fits now. */
    public boolean canAdd(int segments) {
        return descriptorsFor(segments) <= numFree;
    }

    /**
     * Posts one chain: {@code readable} segments (device reads) then {@code writable} ones
     * (flagged {@code VRING_DESC_F_WRITE}), through one indirect table when negotiated, given an
     * area, and the chain has more than one segment. Invisible to the device until {@link #publish()}.
     *
     * @return false when the ring has no room for it now
     * @throws IllegalArgumentException when the chain could never fit
     */
    public boolean add(List<Segment> readable, List<Segment> writable, T token) {
        checkOpen();
        Preconditions.checkNotNull(token, "token");
        int segments = readable.size() + writable.size();
        Preconditions.checkArgument(segments > 0, "a chain needs at least one segment");
        int descriptors = descriptorsFor(segments);
        Preconditions.checkArgument(
                descriptors <= size, "a chain of %s segments cannot fit %s of %s descriptors", segments, name, size);
        if (descriptors > numFree) {
            return false;
        }
        int head = freeHead;
        if (descriptors == 1 && segments > 1) {
            int table = head * indirectEntries * VRING_DESC_SIZE;
            for (int k = 0; k < segments; k++) {
                boolean write = k >= readable.size();
                Segment s = write ? writable.get(k - readable.size()) : readable.get(k);
                int flags = (write ? VRING_DESC_F_WRITE : 0) | (k + 1 < segments ? VRING_DESC_F_NEXT : 0);
                putDesc(indirect, table + k * VRING_DESC_SIZE, s.gpa(), s.len(), flags, k + 1 < segments ? k + 1 : 0);
            }
            putDesc(
                    desc,
                    head * VRING_DESC_SIZE,
                    indirectGpa + table,
                    segments * VRING_DESC_SIZE,
                    VRING_DESC_F_INDIRECT,
                    0);
            freeHead = next[head];
        } else {
            int i = head;
            for (int k = 0; k < segments; k++) {
                boolean write = k >= readable.size();
                Segment s = write ? writable.get(k - readable.size()) : readable.get(k);
                boolean more = k + 1 < segments;
                putDesc(
                        desc,
                        i * VRING_DESC_SIZE,
                        s.gpa(),
                        s.len(),
                        (write ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0),
                        more ? next[i] : 0);
                i = next[i];
            }
            freeHead = i;
        }
        post(head, descriptors, token);
        return true;
    }

    /** {@link #add} of one segment the device reads, without allocating. */
    public boolean addReadable(long gpa, int len, T token) {
        return addOne(gpa, len, 0, token);
    }

    /** {@link #add} of one segment the device writes, without allocating. */
    public boolean addWritable(long gpa, int len, T token) {
        return addOne(gpa, len, VRING_DESC_F_WRITE, token);
    }

    private boolean addOne(long gpa, int len, int flags, T token) {
        checkOpen();
        Preconditions.checkNotNull(token, "token");
        if (len <= 0 || gpa < 0) { // not checkArgument: its message argument would allocate on every call
            throw new IllegalArgumentException(String.format("bad segment [gpa 0x%x, +%d)", gpa, len));
        }
        if (numFree == 0) {
            return false;
        }
        int head = freeHead;
        putDesc(desc, head * VRING_DESC_SIZE, gpa, len, flags, 0);
        freeHead = next[head];
        post(head, 1, token);
        return true;
    }

    private int descriptorsFor(int segments) {
        return segments > 1 && indirect != null && segments <= indirectEntries ? 1 : segments;
    }

    private static void putDesc(ByteBuffer table, int offset, long addr, int len, int flags, int nextIndex) {
        table.putLong(offset + VRING_DESC_ADDR, addr);
        table.putInt(offset + VRING_DESC_LEN, len);
        table.putShort(offset + VRING_DESC_FLAGS, (short) flags);
        table.putShort(offset + VRING_DESC_NEXT, (short) nextIndex);
    }

    private void post(int head, int descriptors, T token) {
        numFree -= descriptors;
        chainLength[head] = descriptors;
        tokens[head] = token;
        avail.putShort(VRING_AVAIL_RING + 2 * (availShadow & mask), (short) head);
        availShadow = (availShadow + 1) & 0xffff;
    }

    /** Makes the chains added so far visible: the available entries, then (release) the available index. */
    public void publish() {
        checkOpen();
        if (publishedIdx != availShadow) {
            U16.setRelease(avail, VRING_AVAIL_IDX, (short) availShadow);
            publishedIdx = availShadow;
        }
    }

    /**
     * Whether the device wants a kick for what was published since the last call: with
     * {@code EVENT_IDX}, whether the published index passed the device's {@code avail_event};
     * otherwise, whether the device has not set {@code VRING_USED_F_NO_NOTIFY}. Call it after every
     * {@link #publish()} that should reach the device, and kick when it says so.
     */
    public boolean needsKick() {
        checkOpen();
        VarHandle.fullFence();
        int old = kickedIdx;
        kickedIdx = publishedIdx;
        if (old == publishedIdx) {
            return false;
        }
        if (eventIdx) {
            return needEvent(u16(used, availEventOffset), publishedIdx, old);
        }
        return (u16(used, VRING_USED_FLAGS) & VRING_USED_F_NO_NOTIFY) == 0;
    }

    /** Harvests every used element, freeing their descriptors. */
    public List<Used<T>> poll() {
        return poll(Integer.MAX_VALUE);
    }

    /** Harvests up to {@code max} used elements, freeing their descriptors. */
    public List<Used<T>> poll(int max) {
        List<Used<T>> out = new ArrayList<>();
        poll(max, (token, len) -> out.add(new Used<>(token, len)));
        return out;
    }

    /**
     * Hands up to {@code max} used elements to {@code handler}, oldest first, freeing their
     * descriptors before each call; returns how many. With interrupts enabled and {@code EVENT_IDX},
     * then asks for an interrupt at the next used element ({@code used_event}).
     */
    public int poll(int max, UsedHandler<T> handler) {
        checkOpen();
        int usedIdx = u16Acquire(used, VRING_USED_IDX);
        int pending = (usedIdx - lastUsedIdx) & 0xffff;
        if (pending > size) {
            throw new IllegalStateException(String.format(
                    "%s: device used index %d is %d ahead of the driver's %d, more than the ring holds",
                    name, usedIdx, pending, lastUsedIdx));
        }
        int n = 0;
        while (n < max && lastUsedIdx != usedIdx) {
            int elem = VRING_USED_RING + VRING_USED_ELEM_SIZE * (lastUsedIdx & mask);
            int id = used.getInt(elem);
            int len = used.getInt(elem + VRING_USED_ELEM_LEN);
            T token = release(id);
            lastUsedIdx = (lastUsedIdx + 1) & 0xffff;
            n++;
            handler.accept(token, len);
        }
        if (n > 0 && eventIdx && interruptsEnabled) {
            U16.setVolatile(avail, usedEventOffset, (short) lastUsedIdx);
        }
        return n;
    }

    @SuppressWarnings("unchecked")
    private T release(int id) {
        if (id < 0 || id >= size || tokens[id] == null) {
            throw new IllegalStateException(String.format(
                    "%s: device used descriptor %d, which is not the head of a chain in flight", name, id));
        }
        T token = (T) tokens[id];
        tokens[id] = null;
        int tail = id;
        for (int k = 1; k < chainLength[id]; k++) {
            tail = next[tail];
        }
        next[tail] = freeHead;
        freeHead = id;
        numFree += chainLength[id];
        return token;
    }

    /**
     * Asks the device not to interrupt: {@code VRING_AVAIL_F_NO_INTERRUPT}, or with {@code EVENT_IDX}
     * a {@code used_event} just behind the last used index (which the device's used index, never
     * behind it, cannot pass until it wraps). Only a hint: the device may still interrupt.
     */
    public void disableInterrupts() {
        checkOpen();
        interruptsEnabled = false;
        if (eventIdx) {
            avail.putShort(usedEventOffset, (short) (lastUsedIdx - 1));
        } else {
            avail.putShort(VRING_AVAIL_FLAGS, (short) VRING_AVAIL_F_NO_INTERRUPT);
        }
    }

    /**
     * Asks the device to interrupt for the next used element, then re-reads the used index, as
     * Linux's {@code virtqueue_enable_cb} does: true when used elements are already waiting, which
     * may not bring an interrupt; poll them before waiting.
     */
    public boolean enableInterrupts() {
        checkOpen();
        interruptsEnabled = true;
        if (eventIdx) {
            avail.putShort(usedEventOffset, (short) lastUsedIdx);
        } else {
            avail.putShort(VRING_AVAIL_FLAGS, (short) 0);
        }
        VarHandle.fullFence();
        return u16Acquire(used, VRING_USED_IDX) != lastUsedIdx;
    }

    /**
     * Asks the device to interrupt only once {@code count} more elements are used: with
     * {@code EVENT_IDX}, {@code used_event} goes {@code count - 1} past the last polled (Linux's
     * {@code virtqueue_enable_cb_delayed}, with the count the caller's): interrupt coalescing by
     * count. True when {@code count} elements are already waiting: poll them instead of waiting.
     * Without {@code EVENT_IDX} a device cannot be told a count: this is {@link #enableInterrupts()}.
     */
    public boolean enableInterruptsAfter(int count) {
        Preconditions.checkArgument(count >= 1 && count <= size, "count %s outside 1..%s", count, size);
        if (!eventIdx) {
            return enableInterrupts();
        }
        checkOpen();
        interruptsEnabled = true;
        avail.putShort(usedEventOffset, (short) (lastUsedIdx + count - 1));
        VarHandle.fullFence();
        return ((u16Acquire(used, VRING_USED_IDX) - lastUsedIdx) & 0xffff) >= count;
    }

    /** Whether the device has used elements not yet polled. */
    public boolean hasUsed() {
        checkOpen();
        return u16Acquire(used, VRING_USED_IDX) != lastUsedIdx;
    }

    /** The available index published to the device (chains added but not published are not counted). */
    public int availIdx() {
        return publishedIdx;
    }

    /** The device's used index, read from guest memory. */
    public int usedIdx() {
        checkOpen();
        return u16Acquire(used, VRING_USED_IDX);
    }

    /** The used index up to which this queue has polled. */
    public int lastUsedIdx() {
        return lastUsedIdx;
    }

    public int size() {
        return size;
    }

    /** Descriptors not in any chain in flight. */
    public int freeDescriptors() {
        return numFree;
    }

    /** Whether chains of more than one segment go through indirect tables. */
    public boolean usesIndirect() {
        return indirect != null;
    }

    private static int u16(ByteBuffer b, int offset) {
        return Short.toUnsignedInt((short) U16.getVolatile(b, offset));
    }

    private static int u16Acquire(ByteBuffer b, int offset) {
        return Short.toUnsignedInt((short) U16.getAcquire(b, offset));
    }

    private static void zero(ByteBuffer b) {
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) 0);
        }
    }

    private void checkOpen() {
        if (!memory.isOpen()) {
            throw new IllegalStateException(name + ": guest memory is closed");
        }
    }

    @Override
    public String toString() {
        return String.format(
                "%s (size %d, avail %d, last used %d, %d free)", name, size, publishedIdx, lastUsedIdx, numFree);
    }

    /** Options of a queue; {@link #build()} initializes the rings in guest memory. */
    public static final class Builder<T> {
        private final MemoryTable memory;
        private final VringLayout layout;
        private final FeatureSet features;
        private String name = "virtqueue";
        private long indirectGpa;
        private int indirectEntries;
        private int startIndex;

        private Builder(MemoryTable memory, VringLayout layout, FeatureSet features) {
            this.memory = Preconditions.checkNotNull(memory, "memory");
            this.layout = Preconditions.checkNotNull(layout, "layout");
            this.features = Preconditions.checkNotNull(features, "features");
        }

        /** How errors name the queue ("queue 1 (TX)"). */
        public Builder<T> name(String name) {
            this.name = Preconditions.checkNotNull(name, "name");
            return this;
        }

        /**
         * Guest memory for indirect tables: {@link #indirectBytes(int, int)} bytes at {@code gpa},
         * one table of {@code tableEntries} per descriptor. Used only when
         * {@code VIRTIO_RING_F_INDIRECT_DESC} was negotiated.
         */
        public Builder<T> indirect(long gpa, int tableEntries) {
            Preconditions.checkArgument(
                    tableEntries >= 2 && tableEntries <= 65536,
                    "an indirect table holds 2 to 65536 descriptors, not %s",
                    tableEntries);
            Preconditions.checkArgument(
                    gpa >= 0 && gpa % VirtioUapi.VRING_DESC_ALIGN == 0,
                    "indirect tables at guest address 0x%s are not %s-byte aligned",
                    Long.toHexString(gpa),
                    VirtioUapi.VRING_DESC_ALIGN);
            this.indirectGpa = gpa;
            this.indirectEntries = tableEntries;
            return this;
        }

        /** The index both rings start at (0 by default); the device's {@code VHOST_SET_VRING_BASE}. */
        public Builder<T> startIndex(int index) {
            Preconditions.checkArgument(index >= 0 && index <= 0xffff, "a ring index is 16 bits, not %s", index);
            this.startIndex = index;
            return this;
        }

        /**
         * Checks the layout lies in guest memory, then zeroes the rings and sets both indexes and
         * both event indexes to the start index (so the first chain published is kicked).
         */
        public DriverQueue<T> build() {
            return new DriverQueue<>(this);
        }
    }
}
