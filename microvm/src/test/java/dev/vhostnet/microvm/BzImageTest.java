package dev.vhostnet.microvm;

import static dev.vhostnet.sys.BootparamUapi.BOOT_FLAG;
import static dev.vhostnet.sys.BootparamUapi.CMDLINE_SIZE;
import static dev.vhostnet.sys.BootparamUapi.HEADER;
import static dev.vhostnet.sys.BootparamUapi.INITRD_ADDR_MAX;
import static dev.vhostnet.sys.BootparamUapi.JUMP;
import static dev.vhostnet.sys.BootparamUapi.LOADFLAGS;
import static dev.vhostnet.sys.BootparamUapi.SETUP_SECTS;
import static dev.vhostnet.sys.BootparamUapi.VERSION;
import static dev.vhostnet.sys.BootparamUapi.XLOADFLAGS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class BzImageTest {

    /** The first 17 sectors of a bzImage as Linux 6.1's {@code arch/x86/boot/header.S} lays them out. */
    static ByteBuffer header() {
        ByteBuffer b = ByteBuffer.allocate(17 * 512).order(ByteOrder.LITTLE_ENDIAN);
        b.put(SETUP_SECTS, (byte) 16);
        b.putShort(BOOT_FLAG, (short) 0xaa55);
        b.put(JUMP, (byte) 0xeb).put(JUMP + 1, (byte) 0x6a); // jmp to 0x26c: the header is 0x7b bytes
        b.putInt(HEADER, BzImage.MAGIC);
        b.putShort(VERSION, (short) 0x020f);
        b.put(LOADFLAGS, (byte) 0x01);
        b.putInt(INITRD_ADDR_MAX, 0x7fffffff);
        b.putShort(XLOADFLAGS, (short) 0x7f);
        b.putInt(CMDLINE_SIZE, 2047);
        return b;
    }

    static BzImage parse(ByteBuffer b) {
        return BzImage.parse(Path.of("bzImage"), b.array(), b.capacity() + 4096);
    }

    @Test
    void readsTheSetupHeaderOfAProtocol215Kernel() {
        BzImage image = parse(header());
        assertEquals(0x020f, image.version());
        assertEquals(16, image.setupSects());
        assertEquals(17 * 512, image.kernelOffset());
        assertEquals(4096, image.kernelSize());
        assertEquals(0x7fffffffL, image.initrdAddrMax());
        assertEquals(2047, image.cmdlineSize());
        assertEquals(0x26c - 0x1f1, image.setupHeader().length, "from 0x1f1 to 0x202 plus the jump's offset");
    }

    @Test
    void readsZeroSetupSectorsAsFour() {
        ByteBuffer b = header();
        b.put(SETUP_SECTS, (byte) 0);
        assertEquals(4, parse(b).setupSects());
        assertEquals(5 * 512, parse(b).kernelOffset());
    }

    @Test
    void refusesWhatIsNotABootable64BitBzImage() {
        assertRefused(b -> b.putInt(HEADER, 0x12345678), "HdrS");
        assertRefused(b -> b.putShort(BOOT_FLAG, (short) 0), "boot flag");
        assertRefused(b -> b.putShort(VERSION, (short) 0x020b), "older than 2.12");
        assertRefused(b -> b.put(LOADFLAGS, (byte) 0), "LOADED_HIGH");
        assertRefused(b -> b.putShort(XLOADFLAGS, (short) 0x7e), "XLF_KERNEL_64");
    }

    private static void assertRefused(java.util.function.Consumer<ByteBuffer> spoil, String reason) {
        ByteBuffer b = header();
        spoil.accept(b);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(b));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    /** Debian's kernel, where {@code integration-tests/testvm/build-image.sh} has cached it. */
    @Test
    void parsesTheTestVmKernel() throws IOException {
        Optional<Path> kernel = testVmKernel();
        assumeTrue(
                kernel.isPresent(),
                "no kernel in ~/.cache/vhostnet/testvm: run integration-tests/testvm/build-image.sh");
        BzImage image = BzImage.open(kernel.get());
        assertTrue(image.version() >= 0x020c, image.toString());
        assertTrue(image.initSize() > image.kernelSize(), "the kernel decompresses into more than its file: " + image);
        assertEquals(image.kernelOffset() + image.kernelSize(), Files.size(kernel.get()));
        byte[] file = Files.readAllBytes(kernel.get());
        assertArrayEquals(Arrays.copyOfRange(file, 0x1f1, 0x1f1 + image.setupHeader().length), image.setupHeader());
    }

    static Optional<Path> testVmKernel() throws IOException {
        Path cache = Path.of(System.getenv()
                .getOrDefault("VHOSTNET_TESTVM_CACHE", System.getProperty("user.home") + "/.cache/vhostnet/testvm"));
        if (!Files.isDirectory(cache)) {
            return Optional.empty();
        }
        try (Stream<Path> dirs = Files.list(cache)) {
            return dirs.map(d -> d.resolve("vmlinuz"))
                    .filter(Files::isRegularFile)
                    .findFirst();
        }
    }
}
