package dev.vhostnet.eventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.KvmUapi.KvmSregs;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Signalling an irqfd runs the guest's interrupt handler, through the PIC or as an MSI. */
class KvmIrqfdTest {
    private static final int READY_PORT = 0x12;
    private static final int HANDLER_PORT = 0x11;
    private static final int HANDLER = 0x1100;
    private static final VcpuExit READY = new VcpuExit(KvmUapi.KVM_EXIT_IO, READY_PORT, 1, true, 0);

    /** Programs the master PIC (vectors 8-15), unmasks IRQ 5, reports ready, then {@code sti; hlt} forever. */
    private static final byte[] PIC_MAIN = {
        (byte) 0xfa, // cli
        (byte) 0xb0,
        0x11,
        (byte) 0xe6,
        0x20, // ICW1: edge, cascade, ICW4 follows
        (byte) 0xb0,
        0x08,
        (byte) 0xe6,
        0x21, // ICW2: vector base 8
        (byte) 0xb0,
        0x04,
        (byte) 0xe6,
        0x21, // ICW3: slave on IR2
        (byte) 0xb0,
        0x01,
        (byte) 0xe6,
        0x21, // ICW4: 8086 mode
        (byte) 0xb0,
        (byte) 0xdf,
        (byte) 0xe6,
        0x21, // OCW1: only IRQ 5 unmasked
        (byte) 0x30,
        (byte) 0xc0, // xor al, al
        (byte) 0xe6,
        READY_PORT, // out 0x12, al: ready
        (byte) 0xfb, // sti
        (byte) 0xf4, // hlt
        (byte) 0xeb,
        (byte) 0xfd, // jmp hlt
    };

    /** Reports through port 0x11, sends the PIC an EOI, returns. */
    private static final byte[] PIC_HANDLER = {
        (byte) 0xb0,
        'I',
        (byte) 0xe6,
        HANDLER_PORT, // out 0x11, 'I'
        (byte) 0xb0,
        0x20,
        (byte) 0xe6,
        0x20, // EOI to the master PIC
        (byte) 0xcf, // iret
    };

    @BeforeEach
    void needsKvm() {
        RealModeGuest.assumeKvm();
    }

    private static RealModeGuest guest(byte[] main, byte[] handler) throws Exception {
        RealModeGuest guest = RealModeGuest.create(true, main);
        guest.memory.write(HANDLER, handler, 0, handler.length);
        return guest;
    }

    @Test
    void anIrqfdOnAPicLineRunsTheGuestsHandler() throws Exception {
        try (RealModeGuest guest = guest(PIC_MAIN, PIC_HANDLER);
                EventFd irq = EventFd.create()) {
            assertTrue(guest.kvm.checkExtension(KvmUapi.KVM_CAP_IRQFD) > 0);
            guest.setVector(8 + 5, HANDLER);
            guest.vm.irqfd(irq, 5);
            assertEquals(READY, guest.runFor(10));
            for (int round = 1; round <= 3; round++) {
                Future<VcpuExit> next = guest.runAsync();
                irq.signal();
                assertEquals(
                        new VcpuExit(KvmUapi.KVM_EXIT_IO, HANDLER_PORT, 1, true, 'I'),
                        next.get(10, TimeUnit.SECONDS),
                        "handler ran for signal " + round);
            }
        }
    }

    @Test
    void aDeassignedIrqfdInjectsNothingAndAPendingSignalIsDeliveredOnReassign() throws Exception {
        try (RealModeGuest guest = guest(PIC_MAIN, PIC_HANDLER);
                EventFd irq = EventFd.create()) {
            guest.setVector(8 + 5, HANDLER);
            guest.vm.irqfd(irq, 5).close();
            assertEquals(READY, guest.runFor(10));
            Future<VcpuExit> next = guest.runAsync();
            irq.signal();
            assertThrows(
                    TimeoutException.class,
                    () -> next.get(300, TimeUnit.MILLISECONDS),
                    "no handler runs while the irqfd is deassigned");
            guest.vm.irqfd(irq, 5);
            assertEquals(new VcpuExit(KvmUapi.KVM_EXIT_IO, HANDLER_PORT, 1, true, 'I'), next.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void anIrqfdOnAnMsiRouteDeliversTheVectorToTheLocalApic() throws Exception {
        byte[] main = {
            (byte) 0xfa, // cli
            0x66,
            (byte) 0xc7,
            0x06,
            (byte) 0xf0,
            0x00,
            (byte) 0xff,
            0x01,
            0,
            0, // mov dword [0xf0], 0x1ff: APIC SVR enable
            (byte) 0x30,
            (byte) 0xc0, // xor al, al
            (byte) 0xe6,
            READY_PORT, // out 0x12, al: ready
            (byte) 0xfb, // sti
            (byte) 0xf4, // hlt
            (byte) 0xeb,
            (byte) 0xfd, // jmp hlt
        };
        byte[] handler = {
            (byte) 0xb0,
            'M',
            (byte) 0xe6,
            HANDLER_PORT, // out 0x11, 'M'
            0x66,
            (byte) 0xc7,
            0x06,
            (byte) 0xb0,
            0x00,
            0,
            0,
            0,
            0, // mov dword [0xb0], 0: APIC EOI
            (byte) 0xcf, // iret
        };
        int vector = 0x40;
        int gsi = 24;
        try (RealModeGuest guest = guest(main, handler);
                EventFd msi = EventFd.create()) {
            guest.setVector(vector, HANDLER);
            KvmSregs sregs = guest.vcpu.getSregs();
            sregs.ds.base = 0xfee00000L;
            guest.vcpu.setSregs(sregs);
            guest.vm.setGsiRouting(List.of(
                    new GsiRoute.Irqchip(5, KvmUapi.KVM_IRQCHIP_PIC_MASTER, 5),
                    new GsiRoute.Irqchip(5, KvmUapi.KVM_IRQCHIP_IOAPIC, 5),
                    GsiRoute.Msi.toApic(gsi, 0, vector)));
            guest.vm.irqfd(msi, gsi);
            assertEquals(READY, guest.runFor(10));
            for (int round = 1; round <= 2; round++) {
                Future<VcpuExit> next = guest.runAsync();
                msi.signal();
                assertEquals(
                        new VcpuExit(KvmUapi.KVM_EXIT_IO, HANDLER_PORT, 1, true, 'M'),
                        next.get(10, TimeUnit.SECONDS),
                        "MSI handler ran for signal " + round);
            }
        }
    }

    @Test
    void aResampleIrqfdIsSignalledWhenTheGuestAcknowledgesTheLevelInterrupt() throws Exception {
        try (RealModeGuest guest = guest(PIC_MAIN, PIC_HANDLER);
                EventFd irq = EventFd.create();
                EventFd resample = EventFd.create()) {
            assertTrue(guest.kvm.checkExtension(KvmUapi.KVM_CAP_IRQFD_RESAMPLE) > 0);
            guest.setVector(8 + 5, HANDLER);
            guest.vm.irqfd(irq, 5, resample);
            assertEquals(READY, guest.runFor(10));
            Future<VcpuExit> handled = guest.runAsync();
            irq.signal();
            assertEquals(
                    new VcpuExit(KvmUapi.KVM_EXIT_IO, HANDLER_PORT, 1, true, 'I'), handled.get(10, TimeUnit.SECONDS));
            assertEquals(0, resample.read(), "not acknowledged yet");
            guest.runAsync();
            assertEquals(1, resample.await(10_000), "the guest's EOI signalled the resample fd");
        }
    }
}
