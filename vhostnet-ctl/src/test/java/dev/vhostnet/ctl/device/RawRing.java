package dev.vhostnet.ctl.device;

import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_IDX;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_RING;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_ADDR;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_LEN;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_NEXT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_ELEM_LEN;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_ELEM_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_IDX;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_RING;

import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;

/**
 * A test driver that writes raw ring contents into guest memory at the offsets of
 * {@code <linux/virtio_ring.h>}, whatever they are: what a hostile guest (or a fuzzer) does.
 */
public final class RawRing {
    final MemoryTable memory;
    public final VringLayout layout;
    private int availIdx;

    public RawRing(MemoryTable memory, VringLayout layout) {
        this.memory = memory;
        this.layout = layout;
    }

    /** Zeroes the three rings. */
    public RawRing clear() {
        zero(layout.descGpa(), VringLayout.descBytes(layout.size()));
        zero(layout.availGpa(), VringLayout.availBytes(layout.size()));
        zero(layout.usedGpa(), VringLayout.usedBytes(layout.size()));
        availIdx = 0;
        return this;
    }

    void zero(long gpa, long len) {
        memory.write(gpa, new byte[(int) len], 0, (int) len);
    }

    /** Descriptor {@code index} of the ring's own table. */
    public RawRing desc(int index, long addr, long len, int flags, int next) {
        return descAt(layout.descGpa(), index, addr, len, flags, next);
    }

    /** Descriptor {@code index} of a table at {@code table} (an indirect one). */
    RawRing descAt(long table, int index, long addr, long len, int flags, int next) {
        long d = table + (long) VRING_DESC_SIZE * index;
        memory.putLong(d + VRING_DESC_ADDR, addr);
        memory.putInt(d + VRING_DESC_LEN, (int) len);
        memory.putShort(d + VRING_DESC_FLAGS, (short) flags);
        memory.putShort(d + VRING_DESC_NEXT, (short) next);
        return this;
    }

    /** Puts {@code heads} in the available ring from the current index, then publishes the new index. */
    public RawRing post(int... heads) {
        for (int head : heads) {
            memory.putShort(layout.availGpa() + VRING_AVAIL_RING + 2L * (availIdx % layout.size()), (short) head);
            availIdx = (availIdx + 1) & 0xffff;
        }
        setAvailIdx(availIdx);
        return this;
    }

    RawRing setAvailIdx(int idx) {
        availIdx = idx & 0xffff;
        memory.putShort(layout.availGpa() + VRING_AVAIL_IDX, (short) idx);
        return this;
    }

    RawRing setAvailFlags(int flags) {
        memory.putShort(layout.availGpa() + VRING_AVAIL_FLAGS, (short) flags);
        return this;
    }

    RawRing setUsedEvent(int idx) {
        memory.putShort(layout.availGpa() + VRING_AVAIL_RING + 2L * layout.size(), (short) idx);
        return this;
    }

    RawRing setUsedIdx(int idx) {
        memory.putShort(layout.usedGpa() + VRING_USED_IDX, (short) idx);
        return this;
    }

    public int usedIdx() {
        return memory.getShort(layout.usedGpa() + VRING_USED_IDX) & 0xffff;
    }

    int usedFlags() {
        return memory.getShort(layout.usedGpa() + VRING_USED_FLAGS) & 0xffff;
    }

    int availEvent() {
        return memory.getShort(layout.usedGpa() + VRING_USED_RING + (long) VRING_USED_ELEM_SIZE * layout.size())
                & 0xffff;
    }

    /** The id of used element {@code slot} (taken modulo the ring size). */
    int usedId(int slot) {
        return memory.getInt(usedElem(slot));
    }

    public long usedLen(int slot) {
        return memory.getInt(usedElem(slot) + VRING_USED_ELEM_LEN) & 0xffff_ffffL;
    }

    private long usedElem(int slot) {
        return layout.usedGpa() + VRING_USED_RING + (long) VRING_USED_ELEM_SIZE * (slot % layout.size());
    }
}
