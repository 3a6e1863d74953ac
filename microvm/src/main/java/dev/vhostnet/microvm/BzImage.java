package dev.vhostnet.microvm;

import static dev.vhostnet.sys.BootparamUapi.BOOT_FLAG;
import static dev.vhostnet.sys.BootparamUapi.CMDLINE_SIZE;
import static dev.vhostnet.sys.BootparamUapi.HDR;
import static dev.vhostnet.sys.BootparamUapi.HEADER;
import static dev.vhostnet.sys.BootparamUapi.INITRD_ADDR_MAX;
import static dev.vhostnet.sys.BootparamUapi.INIT_SIZE;
import static dev.vhostnet.sys.BootparamUapi.JUMP;
import static dev.vhostnet.sys.BootparamUapi.LOADED_HIGH;
import static dev.vhostnet.sys.BootparamUapi.LOADFLAGS;
import static dev.vhostnet.sys.BootparamUapi.SETUP_SECTS;
import static dev.vhostnet.sys.BootparamUapi.VERSION;
import static dev.vhostnet.sys.BootparamUapi.XLF_KERNEL_64;
import static dev.vhostnet.sys.BootparamUapi.XLOADFLAGS;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A Linux bzImage as the x86 boot protocol describes it (Documentation/arch/x86/boot.rst;
 * rust-vmm {@code linux-loader}'s {@code loader/bzimage}): the real-mode setup sectors with the
 * {@code setup_header} at 0x1f1, then the protected-mode kernel, which this VMM enters at its
 * 64-bit entry {@code startup_64}, 0x200 bytes in. Only kernels with protocol 2.12 or later that
 * declare {@code XLF_KERNEL_64} are taken.
 */
public final class BzImage {
    /** {@code "HdrS"}, little-endian. */
    static final int MAGIC = 0x53726448;

    static final int BOOT_FLAG_MAGIC = 0xaa55;
    /** 2.12: the first protocol with {@code xloadflags}, which says whether the 64-bit entry exists. */
    static final int MIN_VERSION = 0x020c;
    /** {@code startup_64} from the start of the protected-mode kernel. */
    static final long ENTRY_64_OFFSET = 0x200;

    private static final int SECTOR = 512;

    private final Path path;
    private final byte[] setupHeader;
    private final ByteBuffer header;
    private final long kernelOffset;
    private final long kernelSize;

    private BzImage(Path path, byte[] setup, long fileSize) {
        this.path = path;
        this.header = ByteBuffer.wrap(setup).order(ByteOrder.LITTLE_ENDIAN);
        check(setup.length >= HDR + 0x80, "shorter than a setup header (%d bytes)", setup.length);
        check(u16(BOOT_FLAG) == BOOT_FLAG_MAGIC, "no boot flag 0xaa55 at 0x1fe");
        check(header.getInt(HEADER) == MAGIC, "no \"HdrS\" at 0x202: not a bzImage, or older than boot protocol 2.00");
        check(
                version() >= MIN_VERSION,
                "boot protocol %d.%02d is older than 2.12, which has the 64-bit entry",
                version() >> 8,
                version() & 0xff);
        check(
                (u8(LOADFLAGS) & LOADED_HIGH) != 0,
                "not a bzImage: loadflags lack LOADED_HIGH (a zImage loads at 0x10000)");
        check((u16(XLOADFLAGS) & XLF_KERNEL_64) != 0, "xloadflags lack XLF_KERNEL_64: no 64-bit entry point");
        int headerEnd = JUMP + 2 + u8(JUMP + 1);
        check(headerEnd <= setup.length, "setup header end 0x%x beyond the setup sectors", headerEnd);
        this.setupHeader = Arrays.copyOfRange(setup, HDR, headerEnd);
        this.kernelOffset = (long) (setupSects() + 1) * SECTOR;
        this.kernelSize = fileSize - kernelOffset;
        check(kernelSize > 0, "no protected-mode kernel after %d setup sectors", setupSects());
    }

    /** Reads and checks the setup header of the bzImage at {@code path}. */
    public static BzImage open(Path path) throws IOException {
        long size = Files.size(path);
        byte[] setup;
        try (InputStream in = Files.newInputStream(path)) {
            setup = in.readNBytes(0x8000);
        }
        try {
            return parse(path, setup, size);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": " + e.getMessage(), e);
        }
    }

    /** Checks a bzImage whose first bytes (at least the setup sectors) are {@code setup} and whose file is {@code fileSize} long. */
    static BzImage parse(Path path, byte[] setup, long fileSize) {
        return new BzImage(path, setup, fileSize);
    }

    private static void check(boolean ok, String format, Object... args) {
        if (!ok) {
            throw new IllegalArgumentException(String.format(format, args));
        }
    }

    private int u8(int offset) {
        return header.get(offset) & 0xff;
    }

    private int u16(int offset) {
        return header.getShort(offset) & 0xffff;
    }

    private long u32(int offset) {
        return header.getInt(offset) & 0xffffffffL;
    }

    /** Boot protocol version, major in the high byte: 0x020f is 2.15. */
    public int version() {
        return u16(VERSION);
    }

    /** Real-mode setup sectors after the boot sector (0 in the file means 4). */
    public int setupSects() {
        int n = u8(SETUP_SECTS);
        return n == 0 ? 4 : n;
    }

    /** The highest address the initrd may occupy (its last byte). */
    public long initrdAddrMax() {
        return u32(INITRD_ADDR_MAX);
    }

    /** The longest command line the kernel takes, without its NUL. */
    public long cmdlineSize() {
        return u32(CMDLINE_SIZE);
    }

    /** Bytes the kernel needs from its load address while it decompresses itself. */
    public long initSize() {
        return u32(INIT_SIZE);
    }

    /** Where the protected-mode kernel starts in the file. */
    public long kernelOffset() {
        return kernelOffset;
    }

    public long kernelSize() {
        return kernelSize;
    }

    /** The setup header as in the file, from 0x1f1 to its end (0x202 plus the byte at 0x201): what boot_params.hdr starts as. */
    byte[] setupHeader() {
        return setupHeader.clone();
    }

    /** Reads the protected-mode kernel (everything after the setup sectors). */
    byte[] readKernel() throws IOException {
        byte[] file = Files.readAllBytes(path);
        return Arrays.copyOfRange(file, (int) kernelOffset, file.length);
    }

    @Override
    public String toString() {
        return String.format(
                "%s (boot protocol %d.%02d, %d setup sectors, %d KiB kernel)",
                path, version() >> 8, version() & 0xff, setupSects(), kernelSize / 1024);
    }
}
