package dev.vhostnet.microvm;

/**
 * A device on the port or MMIO {@link Bus}: accesses at {@code offset} from its base, of
 * {@code data.length} bytes, little-endian — the shape of {@code VirtioMmioTransport.read/write},
 * so a transport plugs in as {@code transport::read, transport::write}. Never throws into the
 * vCPU loop: a device refuses a bad access itself.
 */
public interface BusDevice {
    /** Fills {@code data} with the value read. */
    void read(long offset, byte[] data);

    /** Takes the value written. */
    void write(long offset, byte[] data);
}
