package dev.vhostnet.microvm;

/**
 * The CMOS/RTC index and data ports (0x70, 0x71) of an MC146818 that is never updating and holds
 * zeros. Without it the ports read 0xff, an open bus, in which Linux's
 * {@code drivers/rtc/rtc-mc146818-lib.c} sees "update in progress" (register A bit 7) and re-reads
 * in a loop: thousands of exits, each slow under nested KVM. The wall clock comes from kvm-clock.
 */
final class Cmos implements BusDevice {
    static final int PORTS = 2;

    private int index;

    @Override
    public synchronized void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
        if (offset == 0) {
            data[0] = (byte) index;
        }
    }

    @Override
    public synchronized void write(long offset, byte[] data) {
        if (offset == 0) {
            index = data[0] & 0x7f; // bit 7 is the NMI mask
        }
    }
}
