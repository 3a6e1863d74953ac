package dev.vhostnet.microvm;

import com.google.common.base.Preconditions;
import java.util.Map;
import java.util.TreeMap;

/**
 * Address ranges to devices, for one address space: the vCPU loop's port bus and its MMIO bus
 * (Firecracker {@code vstate/bus.rs}). An access that hits no device, or crosses a device's end,
 * is counted and ignored; a read of it returns all ones, as an open ISA or PCI bus does.
 */
public final class Bus {
    private record Range(long base, long size, BusDevice device) {}

    private final String name;
    private final TreeMap<Long, Range> ranges = new TreeMap<>();
    private final ExitCounters counters;

    Bus(String name, ExitCounters counters) {
        this.name = name;
        this.counters = counters;
    }

    /** Puts {@code device} at {@code [base, base + size)}, which must not overlap another. */
    public synchronized void add(long base, long size, BusDevice device) {
        Preconditions.checkArgument(
                size > 0 && base + size > base, "bad range 0x%s+0x%s", Long.toHexString(base), Long.toHexString(size));
        Map.Entry<Long, Range> below = ranges.floorEntry(base + size - 1);
        Preconditions.checkArgument(
                below == null || below.getValue().base + below.getValue().size <= base,
                "%s range 0x%s+0x%s overlaps a device at 0x%s",
                name,
                Long.toHexString(base),
                Long.toHexString(size),
                below == null ? "" : Long.toHexString(below.getKey()));
        ranges.put(base, new Range(base, size, device));
    }

    private synchronized Range find(long address, int length) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        if (e == null) {
            return null;
        }
        Range r = e.getValue();
        return address - r.base + length <= r.size ? r : null;
    }

    /** A guest read of {@code data.length} bytes at {@code address}. */
    void read(long address, byte[] data) {
        Range r = find(address, data.length);
        if (r == null) {
            java.util.Arrays.fill(data, (byte) 0xff);
            counters.unhandled(name + " read", address);
            return;
        }
        r.device.read(address - r.base, data);
    }

    /** A guest write of {@code data} at {@code address}. */
    void write(long address, byte[] data) {
        Range r = find(address, data.length);
        if (r == null) {
            counters.unhandled(name + " write", address);
            return;
        }
        r.device.write(address - r.base, data);
    }
}
