package dev.vhostnet.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FdTest {
    @Test
    void aFailedOpenNamesTheCallTheErrnoAndTheHint() {
        Set<Integer> before = OpenFds.snapshot();
        SysException e = assertThrows(
                SysException.class, () -> Fd.open("/dev/no-such-device", Fcntl.O_RDWR, errno -> "load its module"));
        assertEquals("open(/dev/no-such-device): ENOENT (No such file or directory) — load its module", e.getMessage());
        assertTrue(e.is(Errno.ENOENT));
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        Fd fd = Fd.open("/dev/null", Fcntl.O_RDWR, Hint.NONE);
        assertTrue(fd.isCloseOnExec(), "open adds O_CLOEXEC");
        fd.close();
        fd.close();
        assertFalse(fd.isOpen());
        IllegalStateException e = assertThrows(IllegalStateException.class, fd::get);
        assertTrue(e.getMessage().contains("/dev/null"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> fd.ioctl(TunUapi.TUNGETFEATURES));
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void aDupKeepsTheFileOpenAfterTheOriginalIsClosed() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        Fd eventfd = Syscalls.eventfd(0, 0);
        try (Fd dup = eventfd.dup()) {
            assertTrue(dup.isCloseOnExec(), "F_DUPFD_CLOEXEC");
            eventfd.writeU64(3);
            eventfd.close();
            assertEquals(3, dup.readU64(), "the counter the original wrote, read through the dup");
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void closeOnExecCanBeClearedAndSetAgain() throws Exception {
        try (Fd fd = Fd.open("/dev/null", Fcntl.O_RDWR, Hint.NONE)) {
            fd.setCloseOnExec(false);
            assertFalse(fd.isCloseOnExec(), "cleared: a child would inherit it");
            fd.setCloseOnExec(true);
            assertTrue(fd.isCloseOnExec());
        }
    }

    @Test
    void anIoctlTheObjectDoesNotKnowFailsWithItsName() throws Exception {
        try (Fd fd = Fd.open("/dev/null", Fcntl.O_RDWR, Hint.NONE)) {
            SysException e = assertThrows(SysException.class, () -> fd.ioctl(VhostUapi.VHOST_SET_OWNER));
            assertEquals("ioctl VHOST_SET_OWNER on /dev/null", e.call());
            assertTrue(e.is(Errno.ENOTTY), e.getMessage());
        }
    }

    @Test
    void memfdIsSizedMappedSharedAndReadBack() throws Exception {
        try (Fd memfd = Syscalls.memfdCreate("fd-test", 0)) {
            memfd.truncate(8192);
            try (Mmap a = Mmap.map(memfd, 8192, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, 0);
                    Mmap b = Mmap.map(memfd, 8192, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, 0)) {
                a.pointer().setLong(4096, 0x1122334455667788L);
                assertEquals(0x1122334455667788L, b.pointer().getLong(4096), "both mappings see the same page");
                assertTrue(a.address() % 4096 == 0);
            }
        }
    }

    @Test
    void readAndWriteMoveBytesThroughNativeMemory() throws Exception {
        try (Fd efd = Syscalls.eventfd(0, EventfdUapi.EFD_NONBLOCK)) {
            Memory buf = new Memory(8);
            buf.setLong(0, 5);
            assertEquals(8, efd.write(buf, 8));
            buf.setLong(0, 0);
            assertEquals(8, efd.read(buf, 8));
            assertEquals(5, buf.getLong(0));
            SysException e = assertThrows(SysException.class, () -> efd.read(buf, 8));
            assertTrue(e.is(Errno.EAGAIN));
        }
    }

    @Test
    void pollWaitsForReadabilityAndTimesOutWithoutIt() throws Exception {
        try (Fd efd = Syscalls.eventfd(0, EventfdUapi.EFD_NONBLOCK)) {
            assertEquals(0, efd.poll(PollUapi.POLLIN, 10), "nothing to read yet");
            Memory buf = new Memory(8);
            buf.setLong(0, 1);
            efd.write(buf, 8);
            assertEquals(PollUapi.POLLIN, efd.poll(PollUapi.POLLIN, 1000));
            assertEquals(
                    PollUapi.POLLIN | PollUapi.POLLOUT,
                    efd.poll(PollUapi.POLLIN | PollUapi.POLLOUT, 0),
                    "each event asked for and present comes back, none other");
            assertEquals(PollUapi.POLLOUT, efd.poll(PollUapi.POLLOUT, 0));
            efd.writeU64(0xffff_ffff_ffff_fffeL - 1);
            assertEquals(
                    PollUapi.POLLIN, efd.poll(PollUapi.POLLIN | PollUapi.POLLOUT, 0), "a full counter is not writable");
        }
    }

    @Test
    void unmappedMemoryCannotBeReachedThroughTheMapping() throws Exception {
        Mmap m = Mmap.anonymous(4096, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE);
        m.close();
        m.close();
        assertThrows(IllegalStateException.class, m::address);
    }
}
