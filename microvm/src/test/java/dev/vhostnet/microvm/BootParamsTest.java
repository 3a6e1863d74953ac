package dev.vhostnet.microvm;

import static dev.vhostnet.sys.BootparamUapi.BOOT_E820_ENTRY_SIZE;
import static dev.vhostnet.sys.BootparamUapi.BOOT_PARAMS_SIZE;
import static dev.vhostnet.sys.BootparamUapi.CMDLINE_SIZE;
import static dev.vhostnet.sys.BootparamUapi.CMD_LINE_PTR;
import static dev.vhostnet.sys.BootparamUapi.E820_ENTRIES;
import static dev.vhostnet.sys.BootparamUapi.E820_TABLE;
import static dev.vhostnet.sys.BootparamUapi.EXT_CMD_LINE_PTR;
import static dev.vhostnet.sys.BootparamUapi.EXT_RAMDISK_IMAGE;
import static dev.vhostnet.sys.BootparamUapi.HEADER;
import static dev.vhostnet.sys.BootparamUapi.RAMDISK_IMAGE;
import static dev.vhostnet.sys.BootparamUapi.RAMDISK_SIZE;
import static dev.vhostnet.sys.BootparamUapi.TYPE_OF_LOADER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootParamsTest {

    @Test
    void theZeroPageCarriesTheKernelsHeaderTheLoaderTheCommandLineTheInitrdAndTheMap() {
        BzImage kernel = BzImageTest.parse(BzImageTest.header());
        ByteBuffer page = ByteBuffer.wrap(
                        BootParams.build(kernel, E820.forRam(256L << 20), Layout.CMDLINE, 0x0f000000L, 0x123456))
                .order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(BOOT_PARAMS_SIZE, page.capacity());
        assertEquals(BzImage.MAGIC, page.getInt(HEADER), "the setup header copied from the image");
        assertEquals(2047, page.getInt(CMDLINE_SIZE));
        assertEquals(0xff, page.get(TYPE_OF_LOADER) & 0xff);
        assertEquals(0x20000, page.getInt(CMD_LINE_PTR));
        assertEquals(0, page.getInt(EXT_CMD_LINE_PTR));
        assertEquals(0x0f000000, page.getInt(RAMDISK_IMAGE));
        assertEquals(0, page.getInt(EXT_RAMDISK_IMAGE));
        assertEquals(0x123456, page.getInt(RAMDISK_SIZE));
        assertEquals(2, page.get(E820_ENTRIES));
        assertEquals(
                List.of(
                        new E820.Entry(0, 0x9fc00, E820.RAM),
                        new E820.Entry(0x100000, (256L << 20) - 0x100000, E820.RAM)),
                e820(page, 2));
    }

    private static List<E820.Entry> e820(ByteBuffer page, int n) {
        return java.util.stream.IntStream.range(0, n)
                .mapToObj(i -> {
                    int at = E820_TABLE + i * BOOT_E820_ENTRY_SIZE;
                    return new E820.Entry(page.getLong(at), page.getLong(at + 8), page.getInt(at + 16));
                })
                .toList();
    }

    @Test
    void theMemoryMapLeavesTheLegacyHoleAndStopsBelowTheMmioGap() {
        assertThrows(IllegalArgumentException.class, () -> E820.forRam(Layout.MMIO_GAP + (1 << 20)));
        assertThrows(IllegalArgumentException.class, () -> E820.forRam(Layout.HIMEM));
    }
}
