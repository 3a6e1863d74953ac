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
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_IDX;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_RING;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import java.util.ArrayList;
import java.util.List;

/**
 * A test-only device side of one split virtqueue — a reference model for the driver tests, kept apart
 * from the production {@code dev.vhostnet.ctl.device.DeviceQueue} so each checks the other — written from the spec with the plain
 * {@link MemoryTable} accessors (independently of {@link DriverQueue}): pops chains, following
 * indirect tables, with every index, length and chain bound checked; pushes used elements; keeps
 * {@code avail_event} / {@code VRING_USED_F_NO_NOTIFY}; decides whether to interrupt the driver.
 */
public final class SpecDeviceQueue {
    /** One descriptor as the device read it. */
    public record Desc(long addr, int len, int flags) {
        public boolean writable() {
            return (flags & VRING_DESC_F_WRITE) != 0;
        }
    }

    /** A popped chain: its head, its buffers in order, and whether it came through an indirect table. */
    public record Chain(int head, List<Desc> descs, boolean indirect) {
        public int writableBytes() {
            return descs.stream().filter(Desc::writable).mapToInt(Desc::len).sum();
        }
    }

    private final MemoryTable memory;
    private final VringLayout layout;
    private final boolean eventIdx;
    private final int size;
    private int lastAvail;
    private int usedIdx;
    private int signalledUsed;
    private boolean updateAvailEvent = true;
    private int interrupts;
    private int indirectChains;

    /** The device started at {@code base} ({@code VHOST_SET_VRING_BASE}); its used index read from memory, as vhost does. */
    public SpecDeviceQueue(MemoryTable memory, VringLayout layout, FeatureSet features, int base) {
        this.memory = memory;
        this.layout = layout;
        this.eventIdx = features.has(VirtioFeature.EVENT_IDX);
        this.size = layout.size();
        this.lastAvail = base;
        this.usedIdx = u16(layout.usedGpa() + VRING_USED_IDX);
        this.signalledUsed = usedIdx;
    }

    public SpecDeviceQueue(MemoryTable memory, VringLayout layout, FeatureSet features) {
        this(memory, layout, features, 0);
    }

    /** The next chain the driver made available, or null; with {@code EVENT_IDX}, asks to be kicked for the one after. */
    public Chain pop() {
        int availIdx = u16(layout.availGpa() + VRING_AVAIL_IDX);
        if (((availIdx - lastAvail) & 0xffff) > size) {
            throw new IllegalStateException("avail index " + availIdx + " is more than a ring ahead of " + lastAvail);
        }
        if (availIdx == lastAvail) {
            return null;
        }
        int head = u16(layout.availGpa() + VRING_AVAIL_RING + 2L * (lastAvail & (size - 1)));
        lastAvail = (lastAvail + 1) & 0xffff;
        if (eventIdx && updateAvailEvent) {
            memory.putShort(availEventGpa(), (short) lastAvail);
        }
        return walk(head);
    }

    /** Pushes back the last {@code n} popped chains, as vhost's {@code vhost_discard_vq_desc}. */
    public void unpop(int n) {
        lastAvail = (lastAvail - n) & 0xffff;
    }

    private Chain walk(int head) {
        check(head < size, "head " + head + " out of ring");
        List<Desc> out = new ArrayList<>();
        boolean indirect = false;
        long table = layout.descGpa();
        int tableSize = size;
        int i = head;
        for (int ttl = size + 1; ; ttl--) {
            check(ttl > 0, "chain from " + head + " loops");
            Desc d = read(table, i);
            int next = Short.toUnsignedInt(memory.getShort(table + (long) i * VRING_DESC_SIZE + VRING_DESC_NEXT));
            if ((d.flags() & VRING_DESC_F_INDIRECT) != 0) {
                check(!indirect && out.isEmpty(), "nested or chained indirect descriptor");
                check(d.len() > 0 && d.len() % VRING_DESC_SIZE == 0, "indirect table length " + d.len());
                indirect = true;
                table = d.addr();
                tableSize = d.len() / VRING_DESC_SIZE;
                ttl = tableSize + 1;
                i = 0;
                continue;
            }
            check(memory.contains(d.addr(), d.len()), "buffer outside guest memory");
            check(!(out.stream().anyMatch(Desc::writable) && !d.writable()), "readable after writable");
            out.add(d);
            if ((d.flags() & VRING_DESC_F_NEXT) == 0) {
                break;
            }
            check(next < tableSize, "next " + next + " out of table");
            i = next;
        }
        if (indirect) {
            indirectChains++;
        }
        return new Chain(head, out, indirect);
    }

    private Desc read(long table, int i) {
        long at = table + (long) i * VRING_DESC_SIZE;
        return new Desc(
                memory.getLong(at + VRING_DESC_ADDR),
                memory.getInt(at + VRING_DESC_LEN),
                Short.toUnsignedInt(memory.getShort(at + VRING_DESC_FLAGS)));
    }

    /** Writes a used element without publishing it. */
    public void addUsed(int head, int len, int pendingOffset) {
        long at = layout.usedGpa()
                + VRING_USED_RING
                + (long) VRING_USED_ELEM_SIZE * ((usedIdx + pendingOffset) & (size - 1));
        memory.putInt(at, head);
        memory.putInt(at + VRING_USED_ELEM_LEN, len);
    }

    /** Publishes {@code n} used elements written with {@link #addUsed}, then interrupts if the driver asked to be. */
    public void publishUsed(int n) {
        usedIdx = (usedIdx + n) & 0xffff;
        memory.putShort(layout.usedGpa() + VRING_USED_IDX, (short) usedIdx);
        boolean call;
        if (eventIdx) {
            call = DriverQueue.needEvent(u16(layout.availGpa() + VRING_AVAIL_RING + 2L * size), usedIdx, signalledUsed);
        } else {
            call = (u16(layout.availGpa() + VRING_AVAIL_FLAGS) & VRING_AVAIL_F_NO_INTERRUPT) == 0;
        }
        signalledUsed = usedIdx;
        if (call) {
            interrupts++;
        }
    }

    /** Adds and publishes one used element. */
    public void pushUsed(int head, int len) {
        addUsed(head, len, 0);
        publishUsed(1);
    }

    /** Copies a chain's readable bytes out. */
    public byte[] readAll(Chain chain) {
        int total = chain.descs().stream()
                .filter(d -> !d.writable())
                .mapToInt(Desc::len)
                .sum();
        byte[] out = new byte[total];
        int at = 0;
        for (Desc d : chain.descs()) {
            if (!d.writable()) {
                memory.read(d.addr(), out, at, d.len());
                at += d.len();
            }
        }
        return out;
    }

    /** Copies {@code len} bytes of {@code src} from {@code offset} into the chain's writable buffers; returns the bytes written. */
    public int writeAll(Chain chain, byte[] src, int offset, int len) {
        int done = 0;
        for (Desc d : chain.descs()) {
            if (d.writable() && done < len) {
                int n = Math.min(d.len(), len - done);
                memory.write(d.addr(), src, offset + done, n);
                done += n;
            }
        }
        return done;
    }

    /** With {@code EVENT_IDX}: whether popping updates {@code avail_event} (false: "still processing"). */
    public void updateAvailEvent(boolean update) {
        this.updateAvailEvent = update;
    }

    /** Writes {@code avail_event}: kick me when the available index passes it. */
    public void setAvailEvent(int idx) {
        memory.putShort(availEventGpa(), (short) idx);
    }

    /** Sets or clears {@code VRING_USED_F_NO_NOTIFY}. */
    public void setNoNotify(boolean noNotify) {
        memory.putShort(layout.usedGpa() + VRING_USED_FLAGS, (short) (noNotify ? 1 : 0));
    }

    /** The next available index to pop: what {@code VHOST_GET_VRING_BASE} returns. */
    public int lastAvail() {
        return lastAvail;
    }

    public int usedIdx() {
        return usedIdx;
    }

    /** Interrupts the device decided to raise. */
    public int interrupts() {
        return interrupts;
    }

    public int indirectChains() {
        return indirectChains;
    }

    private long availEventGpa() {
        return layout.usedGpa() + VRING_USED_RING + (long) VRING_USED_ELEM_SIZE * size;
    }

    private int u16(long gpa) {
        return Short.toUnsignedInt(memory.getShort(gpa));
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("bad chain: " + what);
        }
    }
}
