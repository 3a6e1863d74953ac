package dev.vhostnet.eventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.OpenFds;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Guest doorbell writes bound to an ioeventfd signal it inside the kernel: no exit reaches this process. */
class KvmIoeventfdTest {
    private static final int DONE_PORT = 0xf4;

    @BeforeEach
    void needsKvm() {
        RealModeGuest.assumeKvm();
    }

    @Test
    void portWritesMatchingTheDatamatchSignalTheEventfdWithoutAnExit() throws Exception {
        byte[] code = {
            (byte) 0xba,
            0x10,
            0x00, // mov dx, 0x10
            (byte) 0xb0,
            0x01, // mov al, 1
            (byte) 0xee, // out dx, al   -> eventfd
            (byte) 0xee, // out dx, al   -> eventfd
            (byte) 0xb0,
            0x02, // mov al, 2
            (byte) 0xee, // out dx, al   -> no match: exits
            (byte) 0xb0,
            0x01, // mov al, 1
            (byte) 0xee, // out dx, al   -> eventfd
            (byte) 0xe6,
            (byte) DONE_PORT, // out 0xf4, al -> exits: done
            (byte) 0xf4, // hlt
        };
        try (RealModeGuest guest = RealModeGuest.create(false, code);
                EventFd doorbell = EventFd.create();
                KvmVm.Registration r = guest.vm.ioeventfd(doorbell, IoAddress.pio(0x10, 1), OptionalLong.of(1))) {
            VcpuExit first = guest.runFor(10);
            assertEquals(new VcpuExit(KvmUapi.KVM_EXIT_IO, 0x10, 1, true, 2), first, "only the write of 2 exits");
            assertEquals(2, doorbell.read(), "the two writes of 1 before it were counted in the kernel");
            VcpuExit done = guest.runFor(10);
            assertEquals(new VcpuExit(KvmUapi.KVM_EXIT_IO, DONE_PORT, 1, true, 1), done);
            assertEquals(1, doorbell.read());
            assertEquals(KvmUapi.KVM_EXIT_HLT, guest.runFor(10).reason());
        }
    }

    @Test
    void mmioWritesOfTheRegisteredLengthOrAnyLengthSignalWithoutAnExitUntilDeassigned() throws Exception {
        byte[] code = {
            (byte) 0xb8,
            0x00,
            0x20, // mov ax, 0x2000
            (byte) 0x8e,
            (byte) 0xd8, // mov ds, ax
            0x66,
            (byte) 0xc7,
            0x06,
            0x00,
            0x00,
            0x78,
            0x56,
            0x34,
            0x12, // mov dword [0], 0x12345678 -> 0x20000
            0x66,
            (byte) 0xc7,
            0x06,
            0x00,
            0x00,
            0x78,
            0x56,
            0x34,
            0x12, // again
            (byte) 0xc6,
            0x06,
            0x04,
            0x00,
            (byte) 0xaa, // mov byte [4], 0xaa -> 0x20004: exits
            (byte) 0xb8,
            0x00,
            0x30, // mov ax, 0x3000
            (byte) 0x8e,
            (byte) 0xd8, // mov ds, ax
            (byte) 0xc7,
            0x06,
            0x00,
            0x00,
            0x34,
            0x12, // mov word [0], 0x1234 -> 0x30000
            (byte) 0xe6,
            (byte) DONE_PORT, // out 0xf4, al
            (byte) 0xf4, // hlt
        };
        try (RealModeGuest guest = RealModeGuest.create(false, code);
                EventFd dword = EventFd.create();
                EventFd anyLength = EventFd.create()) {
            KvmVm.Registration dwordBell = guest.vm.ioeventfd(dword, IoAddress.mmio(0x20000, 4), OptionalLong.empty());
            try (KvmVm.Registration anyBell =
                    guest.vm.ioeventfd(anyLength, IoAddress.mmio(0x30000, 0), OptionalLong.empty())) {
                assertEquals(new VcpuExit(KvmUapi.KVM_EXIT_MMIO, 0x20004, 1, true, 0xaa), guest.runFor(10));
                assertEquals(2, dword.read());
                assertEquals(KvmUapi.KVM_EXIT_IO, guest.runFor(10).reason());
                assertEquals(1, anyLength.read(), "a 2-byte write matched the any-length ioeventfd");
            }
            dwordBell.close();
            guest.reset();
            assertEquals(
                    new VcpuExit(KvmUapi.KVM_EXIT_MMIO, 0x20000, 4, true, 0x12345678),
                    guest.runFor(10),
                    "once deassigned, the write exits to this process");
            assertEquals(0, dword.read());
        }
    }

    @Test
    void registersEveryAccessLengthAndRejectsBadOnesBeforeTheKernel() throws Exception {
        try (RealModeGuest guest = RealModeGuest.create(false, new byte[] {(byte) 0xf4});
                EventFd e = EventFd.create()) {
            assertTrue(guest.kvm.checkExtension(KvmUapi.KVM_CAP_IOEVENTFD) > 0);
            for (int length : new int[] {1, 2, 4, 8}) {
                guest.vm
                        .ioeventfd(e, IoAddress.mmio(0x40000 + 16L * length, length), OptionalLong.of(7))
                        .close();
            }
            guest.vm
                    .ioeventfd(e, IoAddress.mmio(0x50000, 0), OptionalLong.empty())
                    .close();
            assertThrows(IllegalArgumentException.class, () -> IoAddress.mmio(0x60000, 3));
            assertThrows(IllegalArgumentException.class, () -> IoAddress.pio(0x10, 8));
            assertThrows(IllegalArgumentException.class, () -> IoAddress.pio(0xffff, 2));
            IllegalArgumentException datamatchAny = assertThrows(
                    IllegalArgumentException.class,
                    () -> guest.vm.ioeventfd(e, IoAddress.pio(0x10, 0), OptionalLong.of(1)));
            assertTrue(datamatchAny.getMessage().contains("datamatch"), datamatchAny.getMessage());
        }
    }

    @Test
    void aFailedGuestBringUpLeaksNoDescriptor() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        try (RealModeGuest guest = RealModeGuest.create(false, new byte[] {(byte) 0xf4});
                EventFd e = EventFd.create()) {
            guest.vm.ioeventfd(e, IoAddress.pio(0x10, 1), OptionalLong.empty());
            var dup = assertThrows(
                    dev.vhostnet.sys.SysException.class,
                    () -> guest.vm.ioeventfd(e, IoAddress.pio(0x10, 1), OptionalLong.empty()));
            assertTrue(dup.getMessage().startsWith("ioctl KVM_IOEVENTFD on kvm-vm: EEXIST"), dup.getMessage());
        }
        assertEquals("", OpenFds.leakedSince(before));
    }
}
