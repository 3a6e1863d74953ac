package dev.vhostnet.microvm;

import static dev.vhostnet.sys.BootparamUapi.BOOT_E820_ENTRY_SIZE;
import static dev.vhostnet.sys.BootparamUapi.BOOT_PARAMS_SIZE;
import static dev.vhostnet.sys.BootparamUapi.CMD_LINE_PTR;
import static dev.vhostnet.sys.BootparamUapi.E820_ENTRIES;
import static dev.vhostnet.sys.BootparamUapi.E820_MAX_ENTRIES_ZEROPAGE;
import static dev.vhostnet.sys.BootparamUapi.E820_TABLE;
import static dev.vhostnet.sys.BootparamUapi.EXT_CMD_LINE_PTR;
import static dev.vhostnet.sys.BootparamUapi.EXT_RAMDISK_IMAGE;
import static dev.vhostnet.sys.BootparamUapi.EXT_RAMDISK_SIZE;
import static dev.vhostnet.sys.BootparamUapi.HDR;
import static dev.vhostnet.sys.BootparamUapi.RAMDISK_IMAGE;
import static dev.vhostnet.sys.BootparamUapi.RAMDISK_SIZE;
import static dev.vhostnet.sys.BootparamUapi.TYPE_OF_LOADER;

import com.google.common.base.Preconditions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The zero page ({@code struct boot_params}) a 64-bit entry finds in RSI (boot.rst, "64-bit Boot
 * Protocol"; Firecracker {@code configure_system}): the kernel's own setup header, then what the
 * loader fills in — its type, the command line, the initrd, the e820 map.
 */
final class BootParams {
    /** {@code type_of_loader}: a loader without an assigned id. */
    static final int LOADER_UNDEFINED = 0xff;

    private BootParams() {}

    /**
     * The zero page for {@code kernel}, with the command line at {@code cmdline} and
     * {@code initrdSize} bytes of initrd at {@code initrd} (no initrd when the size is 0).
     */
    static byte[] build(BzImage kernel, E820 map, long cmdline, long initrd, long initrdSize) {
        Preconditions.checkArgument(map.entries().size() <= E820_MAX_ENTRIES_ZEROPAGE, "too many e820 entries");
        ByteBuffer page = ByteBuffer.allocate(BOOT_PARAMS_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        page.position(HDR);
        page.put(kernel.setupHeader());
        page.put(TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        page.putInt(CMD_LINE_PTR, (int) cmdline);
        page.putInt(EXT_CMD_LINE_PTR, (int) (cmdline >>> 32));
        page.putInt(RAMDISK_IMAGE, (int) initrd);
        page.putInt(EXT_RAMDISK_IMAGE, (int) (initrd >>> 32));
        page.putInt(RAMDISK_SIZE, (int) initrdSize);
        page.putInt(EXT_RAMDISK_SIZE, (int) (initrdSize >>> 32));
        page.put(E820_ENTRIES, (byte) map.entries().size());
        int at = E820_TABLE;
        for (E820.Entry e : map.entries()) {
            page.putLong(at, e.address());
            page.putLong(at + 8, e.size());
            page.putInt(at + 16, e.type());
            at += BOOT_E820_ENTRY_SIZE;
        }
        return page.array();
    }
}
