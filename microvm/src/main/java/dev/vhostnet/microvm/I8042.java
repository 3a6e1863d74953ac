package dev.vhostnet.microvm;

/**
 * The one part of the i8042 keyboard controller this VMM has: its command port 0x64, where Linux's
 * {@code reboot=k} path (and {@code panic=} after {@code poweroff -f}) writes 0xfe, "pulse the
 * reset line" — here, stop the VM (Firecracker {@code devices/legacy/i8042.rs}). Reads give 0xff,
 * an absent controller, so Linux's i8042 probe gives up at once (its flush finds the output buffer
 * stuck full) instead of waiting for command replies.
 */
final class I8042 implements BusDevice {
    static final int CMD_RESET_CPU = 0xfe;

    private final Runnable reset;

    I8042(Runnable reset) {
        this.reset = reset;
    }

    @Override
    public void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0xff);
    }

    @Override
    public void write(long offset, byte[] data) {
        if ((data[0] & 0xff) == CMD_RESET_CPU) {
            reset.run();
        }
    }
}
