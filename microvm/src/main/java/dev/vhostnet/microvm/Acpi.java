package dev.vhostnet.microvm;

import com.google.common.base.Preconditions;
import dev.vhostnet.memtable.MemoryTable;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The ACPI tables that tell a stock kernel about this VM's devices, as Firecracker writes them
 * ({@code src/vmm/src/acpi/}; ACPI 6.5 §5.2): an RSDP where Linux scans for it (0xe0000), an XSDT
 * naming a hardware-reduced FADT (no PM timer, no SCI, no fixed buttons) and a MADT (the one local
 * APIC and the I/O APIC), and a DSDT whose {@code
 * \_SB} holds one {@code LNRO0005} device per virtio-mmio transport, its registers and edge-triggered
 * interrupt in {@code _CRS} — what Linux's {@code virtio_mmio} binds to through ACPI, where a
 * distribution kernel (Debian's) lacks {@code CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES}. The tables sit in
 * the legacy BIOS area, which the e820 map leaves out of RAM, so the kernel never reuses them.
 */
final class Acpi {
    /** Where the RSDP goes: the start of the BIOS area Linux scans ({@code acpi_find_root_pointer}). */
    static final long RSDP = 0xe0000;

    static final long LOCAL_APIC = 0xfee00000L;

    static final long IO_APIC = 0xfec00000L;

    private static final byte[] OEM_ID = "VHOSTN".getBytes(StandardCharsets.US_ASCII);
    private static final int HEADER = 36;
    /** FADT flags (ACPI 6.5 Table 5.10): no fixed power or sleep button; hardware-reduced ACPI. */
    private static final int FADT_PWR_BUTTON = 1 << 4;

    private static final int FADT_SLP_BUTTON = 1 << 5;
    private static final int FADT_HW_REDUCED_ACPI = 1 << 20;
    /** IA-PC boot architecture flags (Table 5.11): no VGA, no MSI, no ASPM control; no 8042 bit. */
    private static final short IAPC_VGA_NOT_PRESENT = 1 << 2;

    private static final short IAPC_MSI_NOT_PRESENT = 1 << 3;
    private static final short IAPC_PCIE_ASPM_CONTROLS = 1 << 4;
    private static final int FADT_LENGTH = 276;

    /** One virtio-mmio transport: its register window and its interrupt (a GSI, a legacy IRQ here). */
    record MmioDevice(long base, long size, int irq) {}

    private Acpi() {}

    /** Writes the tables for {@code devices} at {@link #RSDP} and after it. */
    static void write(MemoryTable memory, List<MmioDevice> devices) {
        long dsdt = RSDP + 64;
        byte[] dsdtTable = table("DSDT", 2, dsdtBody(devices));
        long fadt = align(dsdt + dsdtTable.length);
        byte[] fadtTable = table("FACP", 6, fadtBody(dsdt));
        long madt = align(fadt + fadtTable.length);
        byte[] madtTable = table("APIC", 5, madtBody());
        long xsdt = align(madt + madtTable.length);
        ByteBuffer entries = le(16).putLong(fadt).putLong(madt);
        byte[] xsdtTable = table("XSDT", 1, entries.array());
        Preconditions.checkState(xsdt + xsdtTable.length <= 0x100000, "ACPI tables past the BIOS area");
        put(memory, RSDP, rsdp(xsdt));
        put(memory, dsdt, dsdtTable);
        put(memory, fadt, fadtTable);
        put(memory, madt, madtTable);
        put(memory, xsdt, xsdtTable);
    }

    /** ACPI 6.5 §5.2.5.3: revision 2, the XSDT's address, both checksums. */
    static byte[] rsdp(long xsdt) {
        ByteBuffer b = le(36);
        b.put("RSD PTR ".getBytes(StandardCharsets.US_ASCII));
        b.put((byte) 0); // checksum of the first 20 bytes
        b.put(OEM_ID);
        b.put((byte) 2);
        b.putInt(0); // no RSDT
        b.putInt(36);
        b.putLong(xsdt);
        byte[] r = b.array();
        r[8] = checksum(r, 0, 20);
        r[32] = checksum(r, 0, 36);
        return r;
    }

    /** A system description table: the 36-byte header (§5.2.6) and {@code body}, checksummed. */
    static byte[] table(String signature, int revision, byte[] body) {
        ByteBuffer b = le(HEADER + body.length);
        b.put(signature.getBytes(StandardCharsets.US_ASCII));
        b.putInt(HEADER + body.length);
        b.put((byte) revision);
        b.put((byte) 0);
        b.put(OEM_ID);
        b.put(String.format("%-8s", "VHN" + signature).getBytes(StandardCharsets.US_ASCII));
        b.putInt(1); // OEM revision
        b.put("VHNT".getBytes(StandardCharsets.US_ASCII)); // creator ID
        b.putInt(1); // creator revision
        b.put(body);
        byte[] t = b.array();
        t[9] = checksum(t, 0, t.length);
        return t;
    }

    /** The FADT after its header (§5.2.9, Table 5.9), hardware-reduced, pointing at the DSDT both ways. */
    private static byte[] fadtBody(long dsdt) {
        ByteBuffer b = le(FADT_LENGTH - HEADER);
        b.putInt(40 - HEADER, (int) dsdt);
        b.putShort(109 - HEADER, (short) (IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_PRESENT | IAPC_PCIE_ASPM_CONTROLS));
        b.putInt(112 - HEADER, FADT_HW_REDUCED_ACPI | FADT_PWR_BUTTON | FADT_SLP_BUTTON);
        b.put(131 - HEADER, (byte) 3); // FADT minor version: ACPI 6.3, the one with the hypervisor ID
        b.putLong(140 - HEADER, dsdt);
        ioPort(b, 244 - HEADER, Layout.ACPI_SLEEP); // SLEEP_CONTROL_REG
        ioPort(b, 256 - HEADER, Layout.ACPI_SLEEP); // SLEEP_STATUS_REG
        b.position(268 - HEADER);
        b.put("VHOSTNET".getBytes(StandardCharsets.US_ASCII));
        return b.array();
    }

    /** A Generic Address Structure (§5.2.3.2): one byte in system I/O space at {@code port}. */
    private static void ioPort(ByteBuffer b, int at, int port) {
        b.put(at, (byte) 1); // address space: system I/O
        b.put(at + 1, (byte) 8); // register bit width
        b.put(at + 2, (byte) 0); // bit offset
        b.put(at + 3, (byte) 1); // access size: byte
        b.putLong(at + 4, port);
    }

    /**
     * The MADT after its header (§5.2.12): the local APIC's address, PC-AT compatible 8259s, one
     * processor, KVM's in-kernel I/O APIC, and ISA IRQ 0 on its pin 2, where {@link PcIrqRouting}
     * puts the PIT (QEMU's MADT and routing say the same).
     */
    private static byte[] madtBody() {
        ByteBuffer b = le(8 + 8 + 12 + 10);
        b.putInt((int) LOCAL_APIC);
        b.putInt(1); // PCAT_COMPAT
        b.put((byte) 0).put((byte) 8).put((byte) 0).put((byte) 0).putInt(1); // processor 0, APIC ID 0, enabled
        b.put((byte) 1)
                .put((byte) 12)
                .put((byte) 0)
                .put((byte) 0)
                .putInt((int) IO_APIC)
                .putInt(0); // GSI base 0
        b.put((byte) 2).put((byte) 10).put((byte) 0).put((byte) 0).putInt(2).putShort((short) 0); // IRQ 0 -> GSI 2
        return b.array();
    }

    /**
     * {@code Name (_S5_, Package () {5})} — the sleep type of S5, without which Linux does not power
     * off through ACPI ({@code acpi_sleep_state_supported}) — then {@code Scope (\_SB) { Device (Vnnn)
     * { _HID "LNRO0005", _UID n, _CRS {Memory32Fixed, Interrupt} } … }}, in AML.
     */
    static byte[] dsdtBody(List<MmioDevice> devices) {
        ByteArrayOutputStream scope = new ByteArrayOutputStream();
        scope.writeBytes(new byte[] {0x5c, '_', 'S', 'B', '_'});
        for (int n = 0; n < devices.size(); n++) {
            scope.writeBytes(device(n, devices.get(n)));
        }
        ByteArrayOutputStream aml = new ByteArrayOutputStream();
        name(aml, "_S5_");
        aml.write(0x12); // PackageOp
        aml.writeBytes(pkgLength(3));
        aml.write(1); // NumElements
        aml.write(0x0a); // BytePrefix
        aml.write(AcpiSleepControl.S5);
        aml.write(0x10); // ScopeOp
        aml.writeBytes(pkgLength(scope.size()));
        aml.writeBytes(scope.toByteArray());
        return aml.toByteArray();
    }

    private static byte[] device(int n, MmioDevice d) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(String.format("V%03d", n).getBytes(StandardCharsets.US_ASCII));
        name(body, "_HID");
        body.write(0x0d); // StringPrefix
        body.writeBytes("LNRO0005".getBytes(StandardCharsets.US_ASCII));
        body.write(0);
        name(body, "_UID");
        body.write(0x0a); // BytePrefix
        body.write(n);
        name(body, "_CRS");
        byte[] resources = resources(d);
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        buffer.write(0x0a); // BytePrefix: the buffer's size
        buffer.write(resources.length);
        buffer.writeBytes(resources);
        body.write(0x11); // BufferOp
        body.writeBytes(pkgLength(buffer.size()));
        body.writeBytes(buffer.toByteArray());
        ByteArrayOutputStream device = new ByteArrayOutputStream();
        device.write(0x5b); // ExtOpPrefix
        device.write(0x82); // DeviceOp
        device.writeBytes(pkgLength(body.size()));
        device.writeBytes(body.toByteArray());
        return device.toByteArray();
    }

    /** Memory32Fixed (read-write), Extended Interrupt (consumer, edge, active high, exclusive), End Tag (§6.4). */
    private static byte[] resources(MmioDevice d) {
        ByteBuffer b = le(12 + 9 + 2);
        b.put((byte) 0x86)
                .putShort((short) 9)
                .put((byte) 1)
                .putInt((int) d.base())
                .putInt((int) d.size());
        b.put((byte) 0x89).putShort((short) 6).put((byte) 0x03).put((byte) 1).putInt(d.irq());
        b.put((byte) 0x79).put((byte) 0);
        return b.array();
    }

    private static void name(ByteArrayOutputStream out, String seg) {
        out.write(0x08); // NameOp
        out.writeBytes(seg.getBytes(StandardCharsets.US_ASCII));
    }

    /** AML PkgLength (ACPI 6.5 §20.2.4) for {@code contents} bytes after it: the encoding counts itself. */
    static byte[] pkgLength(int contents) {
        if (contents + 1 < 0x40) {
            return new byte[] {(byte) (contents + 1)};
        }
        int length = contents + 2;
        if (length < 1 << 12) {
            return new byte[] {(byte) (0x40 | (length & 0x0f)), (byte) (length >> 4)};
        }
        length = contents + 3;
        Preconditions.checkArgument(length < 1 << 20, "AML package of %s bytes", contents);
        return new byte[] {(byte) (0x80 | (length & 0x0f)), (byte) (length >> 4), (byte) (length >> 12)};
    }

    private static byte checksum(byte[] data, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += data[i];
        }
        return (byte) -sum;
    }

    private static long align(long address) {
        return (address + 15) & ~15L;
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void put(MemoryTable memory, long address, byte[] bytes) {
        memory.write(address, bytes, 0, bytes.length);
    }
}
