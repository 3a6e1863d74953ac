package dev.vhostnet.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.eventfd.RealModeGuest;
import dev.vhostnet.eventfd.VcpuExit;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.KvmUapi.KvmSregs;
import dev.vhostnet.sys.OpenFds;
import java.io.ByteArrayOutputStream;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Both transports wired to a real KVM guest (one real-mode vCPU): the guest's doorbell write
 * reaches the queue's kick fd with no exit, a signalled call fd runs the guest's interrupt handler
 * (an IOAPIC GSI for virtio-mmio, an MSI-X vector for virtio-pci), and a masked vector holds its
 * interrupts in the PBA and delivers exactly one on unmask.
 */
class KvmTransportTest {
    private static final long RAM = 0x100000;
    private static final long MMIO_BASE = 0xd000_0000L;
    private static final long BAR = 0xe000_0000L;
    private static final long APIC = 0xfee0_0000L;
    private static final long IOAPIC = 0xfec0_0000L;
    private static final int READY_PORT = 0x12;
    private static final int HANDLER_PORT = 0x11;
    private static final VcpuExit READY = new VcpuExit(KvmUapi.KVM_EXIT_IO, READY_PORT, 1, true, 0);

    @BeforeEach
    void needsKvm() {
        RealModeGuest.assumeKvm();
    }

    /** Real-mode code with ds = local APIC, es = the device, fs = IOAPIC (bases set in the segment registers). */
    private static final class Code {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Code bytes(int... b) {
            for (int x : b) {
                out.write(x);
            }
            return this;
        }

        /** {@code mov dword seg:[offset], value}. */
        Code movDword(int segmentPrefix, int offset, int value) {
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
        Code movWordEs(int offset, int value) {
            return bytes(0x26, 0xc7, 0x06, offset & 0xff, offset >> 8, value & 0xff, value >> 8);
        }

        /** Local APIC software enable (SVR), then report ready, then {@code sti; hlt} forever. */
        Code apicOnReadyAndWait() {
            return movDword(0, 0xf0, 0x1ff).bytes(0x30, 0xc0, 0xe6, READY_PORT, 0xfb, 0xf4, 0xeb, 0xfd);
        }

        /** A handler that reports {@code tag} through the handler port, sends the APIC an EOI and returns. */
        static byte[] handler(char tag) {
            return new Code()
                    .bytes(0xb0, tag, 0xe6, HANDLER_PORT)
                    .movDword(0, 0xb0, 0)
                    .bytes(0xcf)
                    .build();
        }

        byte[] build() {
            return out.toByteArray();
        }
    }

    private static RealModeGuest guest(byte[] main, long es) throws Exception {
        RealModeGuest guest = RealModeGuest.create(true, main, RAM);
        KvmSregs sregs = guest.vcpu.getSregs();
        sregs.ds.base = APIC;
        sregs.es.base = es;
        sregs.fs.base = IOAPIC;
        guest.vcpu.setSregs(sregs);
        return guest;
    }

    private static void handler(RealModeGuest guest, int vector, int at, char tag) {
        byte[] code = Code.handler(tag);
        guest.memory.write(at, code, 0, code.length);
        guest.setVector(vector, at);
    }

    private static VcpuExit handled(char tag) {
        return new VcpuExit(KvmUapi.KVM_EXIT_IO, HANDLER_PORT, 1, true, tag);
    }

    @Test
    void mmioDoorbellsReachTheKickFdWithoutAnExitAndCallsRaiseTheGsi() throws Exception {
        int gsi = 5;
        int vector = 0x41;
        byte[] main = new Code()
                .bytes(0xfa, 0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1) // cli; mask both PICs
                .movDword(0x64, 0x00, 0x10 + 2 * gsi)
                .movDword(0x64, 0x10, vector) // IOAPIC pin 5: vector, edge, unmasked
                .movDword(0x64, 0x00, 0x11 + 2 * gsi)
                .movDword(0x64, 0x10, 0) // to APIC 0
                .movDword(0x26, 0x50, 1) // QueueNotify 1: ioeventfd
                .movDword(0x26, 0x50, 7) // QueueNotify 7: no such queue, exits
                .apicOnReadyAndWait()
                .build();
        Set<Integer> before = OpenFds.snapshot();
        FakeDevice device = new FakeDevice();
        try (RealModeGuest guest = guest(main, MMIO_BASE);
                VirtioMmioTransport mmio = new VirtioMmioTransport(device, MMIO_BASE, gsi, 0, guest.memory)) {
            handler(guest, vector, 0x1100, 'V');
            mmio.attach(new KvmWiring(guest.vm, KvmWiring.irqchipDefaults()));

            VcpuExit exit = guest.runFor(10);
            assertEquals(
                    new VcpuExit(KvmUapi.KVM_EXIT_MMIO, MMIO_BASE + 0x50, 4, true, 7),
                    exit,
                    "only the unmatched notify exits");
            byte[] data = new byte[4];
            Le.fill(data, exit.data());
            mmio.write(exit.address() - MMIO_BASE, data);
            assertEquals(
                    1, mmio.counters().badAccesses(), "the exit loop handed it over; the transport refused queue 7");
            assertEquals(READY, guest.runFor(10));
            assertEquals(
                    1,
                    mmio.notifiers().kick(1).read(),
                    "the guest's notify of queue 1 signalled its kick fd in the kernel");
            assertEquals(0, mmio.notifiers().kick(0).read());

            for (int q = 0; q < 2; q++) {
                Future<VcpuExit> next = guest.runAsync();
                mmio.notifiers().call(q).signal();
                assertEquals(handled('V'), next.get(10, TimeUnit.SECONDS), "queue " + q + "'s call raised GSI " + gsi);
            }
            Future<VcpuExit> next = guest.runAsync();
            mmio.notifiers().signalConfigChange();
            assertEquals(handled('V'), next.get(10, TimeUnit.SECONDS), "the config change raised the GSI too");
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void pciDoorbellsAndMsixVectorsAndAMaskedVectorDeliversExactlyOneInterruptOnUnmask() throws Exception {
        byte[] main = new Code()
                .bytes(0xfa)
                .movWordEs(VirtioPciTransport.NOTIFY_OFFSET, 0) // queue 0's doorbell
                .movWordEs(VirtioPciTransport.NOTIFY_OFFSET + 4, 1) // queue 1's doorbell
                .apicOnReadyAndWait()
                .build();
        Set<Integer> before = OpenFds.snapshot();
        FakeDevice device = new FakeDevice();
        try (RealModeGuest guest = guest(main, BAR);
                VirtioPciTransport pci = new VirtioPciTransport(
                        device, 24, new KvmWiring(guest.vm, KvmWiring.irqchipDefaults()), guest.memory)) {
            handler(guest, 0x40, 0x1100, 'C');
            handler(guest, 0x41, 0x1140, 'A');
            handler(guest, 0x42, 0x1180, 'B');
            PciDriver d = new PciDriver(pci);
            d.assignBar(BAR);
            d.findCapabilities();
            d.enableMsix(APIC, 0x40);
            assertTrue(d.negotiate(-1L));
            d.setUpQueues(0x20000);
            assertEquals(0, pci.counters().wiringFailures(), pci.counters().lastRefusal());

            assertEquals(READY, guest.runFor(10), "both doorbell writes stayed in the kernel");
            assertEquals(1, pci.notifiers().kick(0).read());
            assertEquals(1, pci.notifiers().kick(1).read());

            Future<VcpuExit> next = guest.runAsync();
            pci.notifiers().call(0).signal();
            assertEquals(handled('A'), next.get(10, TimeUnit.SECONDS), "queue 0's call raised MSI-X vector 1");
            next = guest.runAsync();
            pci.notifiers().call(1).signal();
            assertEquals(handled('B'), next.get(10, TimeUnit.SECONDS), "queue 1's call raised MSI-X vector 2");
            next = guest.runAsync();
            pci.notifiers().signalConfigChange();
            assertEquals(handled('C'), next.get(10, TimeUnit.SECONDS), "the config change raised vector 0");

            d.maskVector(1, true);
            Future<VcpuExit> masked = guest.runAsync();
            for (int i = 0; i < 5; i++) {
                pci.notifiers().call(0).signal();
            }
            assertThrows(
                    TimeoutException.class, () -> masked.get(300, TimeUnit.MILLISECONDS), "no interrupt while masked");
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!d.pending(1) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(d.pending(1), "the PBA holds the masked interrupt");
            assertTrue(
                    pci.counters().maskedInterrupts() >= 1,
                    "the watcher took the signals (an eventfd read may coalesce several)");

            d.maskVector(1, false);
            assertEquals(handled('A'), masked.get(10, TimeUnit.SECONDS), "unmask delivered the pending interrupt");
            assertFalse(d.pending(1), "delivering cleared the pending bit");
            Future<VcpuExit> after = guest.runAsync();
            assertThrows(TimeoutException.class, () -> after.get(300, TimeUnit.MILLISECONDS), "exactly one, not five");
            pci.notifiers().call(0).signal();
            assertEquals(handled('A'), after.get(10, TimeUnit.SECONDS), "the irqfd is back");
        }
        assertEquals("", OpenFds.leakedSince(before));
    }
}
