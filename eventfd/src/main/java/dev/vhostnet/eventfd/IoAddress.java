package dev.vhostnet.eventfd;

import com.google.common.base.Preconditions;

/**
 * A guest I/O location for {@code KVM_IOEVENTFD}: a port or an MMIO address, and the access
 * length it matches (1, 2, 4 or 8; 0 matches writes of any length and cannot carry a datamatch).
 */
public record IoAddress(Space space, long address, int length) {
    /** Port I/O or memory-mapped I/O. */
    public enum Space {
        PIO,
        MMIO
    }

    public IoAddress {
        Preconditions.checkNotNull(space, "space");
        Preconditions.checkArgument(
                length == 0 || length == 1 || length == 2 || length == 4 || length == 8,
                "ioeventfd length must be 0 (any), 1, 2, 4 or 8, not %s",
                length);
        Preconditions.checkArgument(
                space != Space.PIO || (address >= 0 && address + Math.max(length, 1) <= 0x10000),
                "port 0x%s with length %s is outside the 64 KiB I/O port space",
                Long.toHexString(address),
                length);
        Preconditions.checkArgument(space != Space.PIO || length != 8, "port I/O has no 8-byte accesses");
    }

    public static IoAddress pio(int port, int length) {
        return new IoAddress(Space.PIO, port, length);
    }

    public static IoAddress mmio(long address, int length) {
        return new IoAddress(Space.MMIO, address, length);
    }
}
