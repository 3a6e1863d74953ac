package dev.vhostnet.eventfd;

import dev.vhostnet.sys.KvmUapi;
import java.io.ByteArrayOutputStream;

/**
 * Real-mode code for a {@link RealModeGuest} wired to a device, with ds = the local APIC, es = the
 * device, fs = the IOAPIC ({@link RealModeGuest#setSegmentBases}): route a GSI, enable the APIC,
 * write device registers, report through I/O ports, and interrupt handlers that report or count.
 */
public final class RealModeCode {
    public static final long APIC = 0xfee0_0000L;
    public static final long IOAPIC = 0xfec0_0000L;
    public static final int READY_PORT = 0x12;
    public static final int HANDLER_PORT = 0x11;
    /** The exit of {@link #ready()}. */
    public static final VcpuExit READY = new VcpuExit(KvmUapi.KVM_EXIT_IO, READY_PORT, 1, true, 0);

    private static final int CS = 0x2e;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public RealModeCode bytes(int... b) {
        for (int x : b) {
            out.write(x);
        }
        return this;
    }

    /** {@code mov dword seg:[offset], value}; {@code segmentPrefix} 0 for ds. */
    public RealModeCode movDword(int segmentPrefix, int offset, int value) {
        if (segmentPrefix != 0) {
            out.write(segmentPrefix);
        }
        return bytes(
                0x66,
                0xc7,
                0x06,
                offset & 0xff,
                offset >> 8,
                value & 0xff,
                (value >> 8) & 0xff,
                (value >> 16) & 0xff,
                value >>> 24);
    }

    /** {@code mov word es:[offset], value}: a 2-byte write into the device. */
    public RealModeCode movWordEs(int offset, int value) {
        return bytes(0x26, 0xc7, 0x06, offset & 0xff, offset >> 8, value & 0xff, value >> 8);
    }

    /** {@code cli}, both PICs masked, IOAPIC pin {@code gsi} to {@code vector} on APIC 0, edge, unmasked. */
    public RealModeCode routeIoapic(int gsi, int vector) {
        return bytes(0xfa, 0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1)
                .movDword(0x64, 0x00, 0x10 + 2 * gsi)
                .movDword(0x64, 0x10, vector)
                .movDword(0x64, 0x00, 0x11 + 2 * gsi)
                .movDword(0x64, 0x10, 0);
    }

    /** Local APIC software enable (SVR). */
    public RealModeCode apicOn() {
        return movDword(0, 0xf0, 0x1ff);
    }

    /** Reports ready: an exit to the VMM ({@link #READY}). */
    public RealModeCode ready() {
        return bytes(0x30, 0xc0, 0xe6, READY_PORT);
    }

    /** {@link #apicOn()}, {@link #ready()}, then {@code sti; hlt} forever. */
    public RealModeCode apicOnReadyAndWait() {
        return apicOn().ready().bytes(0xfb, 0xf4, 0xeb, 0xfd);
    }

    /**
     * {@code sti}, then {@code hlt} until an interrupt finds the byte at {@code flag} (cs-relative)
     * non-zero; then reports {@code tag} through the handler port. Halting stays in the kernel.
     */
    public RealModeCode haltUntil(int flag, char tag) {
        return bytes(
                0xfb, 0xf4, CS, 0x80, 0x3e, flag & 0xff, flag >> 8, 0x00, 0x74, 0xf7, 0xb0, tag, 0xe6, HANDLER_PORT);
    }

    /** A handler that reports {@code tag} through the handler port, sends the APIC an EOI and returns. */
    public static byte[] handler(char tag) {
        return new RealModeCode()
                .bytes(0xb0, tag, 0xe6, HANDLER_PORT)
                .movDword(0, 0xb0, 0)
                .bytes(0xcf)
                .build();
    }

    /** A handler that adds one to the 16-bit counter at {@code counter} (cs-relative), EOIs and returns: no exit. */
    public static byte[] countingHandler(int counter) {
        return new RealModeCode()
                .bytes(CS, 0xff, 0x06, counter & 0xff, counter >> 8)
                .movDword(0, 0xb0, 0)
                .bytes(0xcf)
                .build();
    }

    /** The exit of a handler reporting {@code tag}. */
    public static VcpuExit handled(char tag) {
        return new VcpuExit(KvmUapi.KVM_EXIT_IO, HANDLER_PORT, 1, true, tag);
    }

    public byte[] build() {
        return out.toByteArray();
    }
}
