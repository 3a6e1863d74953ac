package dev.vhostnet.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.eventfd.RealModeCode;
import dev.vhostnet.eventfd.RealModeGuest;
import dev.vhostnet.eventfd.VcpuExit;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.OpenFds;
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

    @BeforeEach
    void needsKvm() {
        RealModeGuest.assumeKvm();
    }

    private static RealModeGuest guest(byte[] main, long es) throws Exception {
        RealModeGuest guest = RealModeGuest.create(true, main, RAM);
        guest.setSegmentBases(RealModeCode.APIC, es, RealModeCode.IOAPIC);
        return guest;
    }

    @Test
    void mmioDoorbellsReachTheKickFdWithoutAnExitAndCallsRaiseTheGsi() throws Exception {
        int gsi = 5;
        int vector = 0x41;
        byte[] main = new RealModeCode()
                .routeIoapic(gsi, vector)
                .movDword(0x26, 0x50, 1) // QueueNotify 1: ioeventfd
                .movDword(0x26, 0x50, 7) // QueueNotify 7: no such queue, exits
                .apicOnReadyAndWait()
                .build();
        Set<Integer> before = OpenFds.snapshot();
        FakeDevice device = new FakeDevice();
        try (RealModeGuest guest = guest(main, MMIO_BASE);
                VirtioMmioTransport mmio = new VirtioMmioTransport(device, MMIO_BASE, gsi, 0, guest.memory)) {
            guest.setHandler(vector, 0x1100, RealModeCode.handler('V'));
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
            assertEquals(RealModeCode.READY, guest.runFor(10));
            assertEquals(
                    1,
                    mmio.notifiers().kick(1).read(),
                    "the guest's notify of queue 1 signalled its kick fd in the kernel");
            assertEquals(0, mmio.notifiers().kick(0).read());

            for (int q = 0; q < 2; q++) {
                Future<VcpuExit> next = guest.runAsync();
                mmio.notifiers().call(q).signal();
                assertEquals(
                        RealModeCode.handled('V'),
                        next.get(10, TimeUnit.SECONDS),
                        "queue " + q + "'s call raised GSI " + gsi);
            }
            Future<VcpuExit> next = guest.runAsync();
            mmio.notifiers().signalConfigChange();
            assertEquals(
                    RealModeCode.handled('V'), next.get(10, TimeUnit.SECONDS), "the config change raised the GSI too");
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void pciDoorbellsAndMsixVectorsAndAMaskedVectorDeliversExactlyOneInterruptOnUnmask() throws Exception {
        byte[] main = new RealModeCode()
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
            guest.setHandler(0x40, 0x1100, RealModeCode.handler('C'));
            guest.setHandler(0x41, 0x1140, RealModeCode.handler('A'));
            guest.setHandler(0x42, 0x1180, RealModeCode.handler('B'));
            PciDriver d = new PciDriver(pci);
            d.assignBar(BAR);
            d.findCapabilities();
            d.enableMsix(RealModeCode.APIC, 0x40);
            assertTrue(d.negotiate(-1L));
            d.setUpQueues(0x20000);
            assertEquals(0, pci.counters().wiringFailures(), pci.counters().lastRefusal());

            assertEquals(RealModeCode.READY, guest.runFor(10), "both doorbell writes stayed in the kernel");
            assertEquals(1, pci.notifiers().kick(0).read());
            assertEquals(1, pci.notifiers().kick(1).read());

            Future<VcpuExit> next = guest.runAsync();
            pci.notifiers().call(0).signal();
            assertEquals(
                    RealModeCode.handled('A'), next.get(10, TimeUnit.SECONDS), "queue 0's call raised MSI-X vector 1");
            next = guest.runAsync();
            pci.notifiers().call(1).signal();
            assertEquals(
                    RealModeCode.handled('B'), next.get(10, TimeUnit.SECONDS), "queue 1's call raised MSI-X vector 2");
            next = guest.runAsync();
            pci.notifiers().signalConfigChange();
            assertEquals(
                    RealModeCode.handled('C'), next.get(10, TimeUnit.SECONDS), "the config change raised vector 0");

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
            assertEquals(
                    RealModeCode.handled('A'),
                    masked.get(10, TimeUnit.SECONDS),
                    "unmask delivered the pending interrupt");
            assertFalse(d.pending(1), "delivering cleared the pending bit");
            Future<VcpuExit> after = guest.runAsync();
            assertThrows(TimeoutException.class, () -> after.get(300, TimeUnit.MILLISECONDS), "exactly one, not five");
            pci.notifiers().call(0).signal();
            assertEquals(RealModeCode.handled('A'), after.get(10, TimeUnit.SECONDS), "the irqfd is back");
        }
        assertEquals("", OpenFds.leakedSince(before));
    }
}
