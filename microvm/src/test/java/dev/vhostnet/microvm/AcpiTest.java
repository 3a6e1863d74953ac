package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.memtable.MemoryTable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ACPI tables the microVM writes: found from the RSDP as Linux finds them, every checksum
 * right, and the DSDT read back by ACPICA's own disassembler ({@code iasl -d}, Debian's
 * acpica-tools), which must see the virtio-mmio devices as Linux's ACPI interpreter will.
 */
class AcpiTest {
    private static final List<Acpi.MmioDevice> DEVICES =
            List.of(new Acpi.MmioDevice(0xd0000000L, 0x1000, 5), new Acpi.MmioDevice(0xd0001000L, 0x1000, 6));

    @TempDir
    Path dir;

    @Test
    void theRsdpLeadsThroughTheXsdtToAFadtMadtAndDsdtWithRightChecksums() throws Exception {
        try (MemoryTable memory = MemoryTable.builder().region(0, 2 << 20).build()) {
            Acpi.write(memory, DEVICES);
            byte[] rsdp = read(memory, Acpi.RSDP, 36);
            assertEquals("RSD PTR ", new String(rsdp, 0, 8, StandardCharsets.US_ASCII));
            assertEquals(0, sum(rsdp, 20), "ACPI 1.0 checksum");
            assertEquals(0, sum(rsdp, 36), "extended checksum");
            long xsdt = le(rsdp).getLong(24);
            byte[] x = table(memory, xsdt, "XSDT");
            long fadt = le(x).getLong(36);
            long madt = le(x).getLong(44);
            byte[] f = table(memory, fadt, "FACP");
            assertEquals(276, f.length);
            assertTrue((le(f).getInt(112) & (1 << 20)) != 0, "hardware-reduced ACPI");
            for (int gas : new int[] {244, 256}) {
                assertArrayEquals(
                        new byte[] {1, 8, 0, 1},
                        java.util.Arrays.copyOfRange(f, gas, gas + 4),
                        "sleep control/status register at " + gas + ": one byte of system I/O");
                assertEquals(Layout.ACPI_SLEEP, le(f).getLong(gas + 4), "the sleep register's port");
            }
            long dsdt = le(f).getLong(140);
            assertEquals(dsdt, le(f).getInt(40) & 0xffffffffL, "DSDT and X_DSDT agree");
            byte[] m = table(memory, madt, "APIC");
            assertEquals(Acpi.LOCAL_APIC, le(m).getInt(36) & 0xffffffffL);
            assertArrayEquals(new byte[] {0, 8, 0, 0, 1, 0, 0, 0}, java.util.Arrays.copyOfRange(m, 44, 52));
            assertEquals(Acpi.IO_APIC, le(m).getInt(56) & 0xffffffffL, "the I/O APIC");
            assertArrayEquals(
                    new byte[] {2, 10, 0, 0, 2, 0, 0, 0, 0, 0},
                    java.util.Arrays.copyOfRange(m, 64, 74),
                    "ISA IRQ 0 on GSI 2");
            table(memory, dsdt, "DSDT");
            assertTrue(dsdt >= 0xe0000 && xsdt + x.length <= 0x100000, "inside the BIOS area, out of e820 RAM");
        }
    }

    @Test
    void acpicaDisassemblesTheDsdtIntoTheVirtioMmioDevices() throws Exception {
        assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/iasl")),
                "needs ACPICA's iasl (apt-get install acpica-tools; test.sh installs it)");
        Path dsdt = dir.resolve("dsdt.dat");
        Files.write(dsdt, Acpi.table("DSDT", 2, Acpi.dsdtBody(DEVICES)));
        String dsl = disassemble(dsdt);
        assertTrue(dsl.contains("Device (V000)") && dsl.contains("Device (V001)"), dsl);
        assertTrue(dsl.contains("Name (_HID, \"LNRO0005\")"), dsl);
        assertTrue(dsl.matches("(?s).*Name \\(_S5, Package \\(0x01\\)[^{]*\\{\\s*0x05\\s*\\}.*"), dsl);
        assertTrue(dsl.contains("0xD0001000"), dsl);
        assertTrue(
                dsl.matches(
                        "(?s).*Interrupt \\(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \\)\\s*\\{\\s*0x00000006,.*"),
                dsl);
        assertTrue(!dsl.contains("Incorrect checksum"), dsl);
    }

    @Test
    void pkgLengthCountsItsOwnBytes() {
        assertArrayEquals(new byte[] {0x3f}, Acpi.pkgLength(62));
        assertArrayEquals(new byte[] {0x41, 0x04}, Acpi.pkgLength(63)); // 65 = 0x41: low nibble 1, then 4
        assertArrayEquals(new byte[] {0x4f, (byte) 0xff}, Acpi.pkgLength(4093));
        assertArrayEquals(new byte[] {(byte) 0x81, 0x00, 0x01}, Acpi.pkgLength(4094));
    }

    private static String disassemble(Path dat) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("iasl", "-d", dat.getFileName().toString())
                .directory(dat.getParent().toFile())
                .redirectErrorStream(true)
                .start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "iasl ran too long");
        Path dsl = dat.resolveSibling("dsdt.dsl");
        assertTrue(Files.exists(dsl), () -> "iasl -d wrote nothing:\n" + log);
        return Files.readString(dsl) + log;
    }

    private static byte[] table(MemoryTable memory, long address, String signature) {
        byte[] head = read(memory, address, 8);
        assertEquals(signature, new String(head, 0, 4, StandardCharsets.US_ASCII));
        byte[] t = read(memory, address, le(head).getInt(4));
        assertEquals(0, sum(t, t.length), signature + " checksum");
        return t;
    }

    private static byte[] read(MemoryTable memory, long address, int length) {
        byte[] b = new byte[length];
        memory.read(address, b, 0, length);
        return b;
    }

    private static int sum(byte[] b, int length) {
        int s = 0;
        for (int i = 0; i < length; i++) {
            s += b[i];
        }
        return s & 0xff;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }
}
