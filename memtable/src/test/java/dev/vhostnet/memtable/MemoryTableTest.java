package dev.vhostnet.memtable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.vhostnet.sys.Fcntl;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Hint;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.VhostUapi.VhostMemory;
import dev.vhostnet.sys.VhostUapi.VhostMemoryRegion;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MemoryTableTest {
    private static final long MIB = 1 << 20;

    private static MemoryTable twoRegions() throws Exception {
        return MemoryTable.builder().region(0, 2 * MIB).region(4 * MIB, MIB).build();
    }

    @Test
    void translatesGuestAddressesToThisProcessesMappings() throws Exception {
        try (MemoryTable mem = twoRegions()) {
            GuestRegion high = mem.regions().get(1);
            assertEquals(high.hva() + 0x10, mem.translate(4 * MIB + 0x10, 64));
            mem.putLong(4 * MIB + 0x10, 0xfeedfacecafebeefL);
            assertEquals(0xfeedfacecafebeefL, new Pointer(high.hva()).getLong(0x10), "the bytes are at the HVA");
            byte[] data = {1, 2, 3, 4, 5};
            mem.write(2 * MIB - 5, data, 0, 5);
            byte[] back = new byte[5];
            mem.read(2 * MIB - 5, back, 0, 5);
            assertArrayEquals(data, back);
        }
    }

    @Test
    void aRegionViewIsTheGuestMemoryItCoversAndStaysInsideTheRegion() throws Exception {
        try (MemoryTable mem = twoRegions()) {
            GuestRegion high = mem.regions().get(1);
            java.nio.ByteBuffer view = high.view(0x100, 16);
            mem.putByte(4 * MIB + 0x100 + 3, (byte) 0x5a);
            assertEquals(0x5a, view.get(3), "a guest write is seen through the view");
            view.put(15, (byte) 0x7b);
            assertEquals(0x7b, mem.getByte(4 * MIB + 0x10f), "and a write through it lands in guest memory");
            assertEquals(16, view.capacity());
            assertThrows(IllegalArgumentException.class, () -> high.view(MIB - 8, 16), "past the region's end");
            assertThrows(IllegalArgumentException.class, () -> high.view(-1, 16));
        }
    }

    @Test
    void aViewSeesTheGuestBytesOfItsRangeAndOnlyAWholeRangeInOneRegionGetsOne() throws Exception {
        try (MemoryTable mem = twoRegions()) {
            mem.putInt(2 * MIB - 8, 0x11223344);
            ByteBuffer view = mem.view(2 * MIB - 8, 8).order(ByteOrder.nativeOrder());
            assertEquals(8, view.capacity());
            assertEquals(0x11223344, view.getInt(0));
            view.putInt(4, 0x55667788);
            assertEquals(0x55667788, mem.getInt(2 * MIB - 4), "writes reach guest memory");
            GuestAddressException crossing = assertThrows(GuestAddressException.class, () -> mem.view(2 * MIB - 4, 8));
            assertTrue(crossing.getMessage().contains("crosses the end of region 0"), crossing.getMessage());
            assertThrows(GuestAddressException.class, () -> mem.view(3 * MIB, 1));
        }
    }

    @Test
    void rejectsRangesOutsideAcrossOrWrappingRegions() throws Exception {
        try (MemoryTable mem = twoRegions()) {
            assertTrue(mem.contains(2 * MIB - 8, 8));
            GuestAddressException outside = assertThrows(GuestAddressException.class, () -> mem.translate(3 * MIB, 1));
            assertTrue(outside.getMessage().contains("starts outside guest memory"), outside.getMessage());
            GuestAddressException crossing = assertThrows(GuestAddressException.class, () -> mem.getLong(2 * MIB - 4));
            assertTrue(crossing.getMessage().contains("crosses the end of region 0"), crossing.getMessage());
            assertThrows(GuestAddressException.class, () -> mem.translate(4 * MIB + 16, -1L >>> 1));
            GuestAddressException wrap = assertThrows(GuestAddressException.class, () -> mem.translate(4 * MIB, -16));
            assertTrue(wrap.getMessage().contains("negative"), wrap.getMessage());
            assertThrows(GuestAddressException.class, () -> mem.translate(-4096, 8192));
            assertThrows(GuestAddressException.class, () -> mem.translate(4 * MIB + 8, 0xffff_ffff_ffff_fff0L));
            assertFalse(mem.contains(5 * MIB, 1));
        }
    }

    @Test
    void accessorsAndTranslationAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (MemoryTable mem = MemoryTable.builder()
                .region(0, 2 * MIB)
                .region(4 * MIB, MIB)
                .region(8 * MIB, MIB)
                .build()) {
            long sink = 0;
            for (int round = 0; round < 2; round++) {
                long before =
                        threads.getThreadAllocatedBytes(Thread.currentThread().getId());
                for (int i = 0; i < 100_000; i++) {
                    long gpa = (i % 2 == 0 ? 4 * MIB : 8 * MIB) + (i % 1000) * 8L;
                    mem.putLong(gpa, i);
                    sink += mem.getLong(gpa) + mem.getShort(gpa) + mem.translate(gpa, 8);
                }
                long allocated =
                        threads.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
                if (round == 1) {
                    assertTrue(allocated < 4096, allocated + " bytes allocated by 100,000 accesses");
                }
            }
            assertTrue(sink != 0);
        }
    }

    @Test
    void rejectsBadLayoutsBeforeAllocatingAnything() {
        Set<Integer> before = OpenFds.snapshot();
        assertMessage("at least one region", MemoryTable.builder());
        assertMessage("is empty", MemoryTable.builder().region(0, 0));
        assertMessage(
                "not aligned to the 4096-byte pages", MemoryTable.builder().region(0x800, MIB));
        assertMessage("not aligned", MemoryTable.builder().region(0, MIB + 1));
        assertMessage(
                "overlaps region [gpa 0x0, +0x200000)",
                MemoryTable.builder().region(0, 2 * MIB).region(MIB, 2 * MIB));
        assertMessage("beyond the 2^63", MemoryTable.builder().region(Long.MAX_VALUE - 4095, 8192));
        assertMessage(
                "3 regions, but the vhost module takes at most 2 (max_mem_regions)",
                MemoryTable.builder()
                        .maxRegions(2)
                        .region(0, MIB)
                        .region(MIB, MIB)
                        .region(2 * MIB, MIB));
        assertEquals("", OpenFds.leakedSince(before));
    }

    private static void assertMessage(String expected, MemoryTable.Builder builder) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void encodesTheVhostMemoryTable() throws Exception {
        try (MemoryTable mem = twoRegions()) {
            Memory m = mem.toVhostMemory();
            assertEquals(VhostMemory.SIZE + 2 * VhostMemoryRegion.SIZE, m.size());
            assertEquals(2, m.getInt(0));
            long second = VhostMemory.SIZE + VhostMemoryRegion.SIZE;
            assertEquals(4 * MIB, m.getLong(second));
            assertEquals(MIB, m.getLong(second + 8));
            assertEquals(mem.regions().get(1).hva(), m.getLong(second + 16));
            assertEquals(0, m.getLong(second + 24));
        }
    }

    @Test
    void useAfterCloseThrowsAndFreesEverything() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        MemoryTable mem = twoRegions();
        assertEquals(2, OpenFds.snapshot().size() - before.size(), "one memfd per region");
        mem.close();
        mem.close();
        assertThrows(IllegalStateException.class, () -> mem.getLong(0));
        assertThrows(IllegalStateException.class, () -> mem.putByte(0, (byte) 1));
        assertThrows(IllegalStateException.class, mem::toVhostMemory);
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void memoryIsSharedThroughTheRegionsMemfd() throws Exception {
        try (MemoryTable mem = twoRegions()) {
            mem.putInt(0x100, 0x12345678);
            Path viaProc =
                    Path.of("/proc/self/fd/" + mem.regions().get(0).memfd().get());
            byte[] bytes = Files.readAllBytes(viaProc);
            assertEquals(2 * MIB, bytes.length);
            assertEquals(0x78, bytes[0x100]);
        }
    }

    @Test
    void mapsRegionsFromAnotherOwnersFdAtTheirOffsets() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        try (MemoryTable owner = MemoryTable.builder().region(0, 4 * MIB).build()) {
            owner.putLong(3 * MIB + 8, 0x1122334455667788L);
            Fd shared = reopen(owner.regions().get(0).memfd());
            try (MemoryTable peer = MemoryTable.builder()
                    .mapped(0x1000_0000L, 2 * MIB, shared, 2 * MIB)
                    .build()) {
                assertEquals(
                        0x1122334455667788L, peer.getLong(0x1000_0000L + MIB + 8), "the owner's byte at offset 3 MiB");
                peer.putInt(0x1000_0000L, 42);
                assertEquals(42, owner.getInt(2 * MIB), "and the peer's writes reach the owner");
            }
            assertFalse(shared.isOpen(), "the table closed the fd it took");
            Fd again = reopen(owner.regions().get(0).memfd());
            IllegalArgumentException past = assertThrows(
                    IllegalArgumentException.class,
                    () -> MemoryTable.builder()
                            .mapped(0, 2 * MIB, again, 3 * MIB)
                            .build());
            assertTrue(
                    past.getMessage().contains("reaches past the end of its file (0x400000 bytes)"), past.getMessage());
            assertFalse(again.isOpen(), "a refused region's fd is closed");
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    /** The same memfd opened anew, as another process receiving it would hold it. */
    private static Fd reopen(Fd memfd) throws Exception {
        return Fd.open("/proc/self/fd/" + memfd.get(), Fcntl.O_RDWR, Hint.NONE);
    }

    /** The 2 MiB pool's size, read and written whole at any offset (unlike a sysctl file). */
    private static final Path POOL = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");

    @Test
    void hugePagesFailWithTheFixWhenThePoolIsEmpty() throws Exception {
        long saved = HugePages.total();
        long free = HugePages.free();
        if (free > 0) {
            // test.sh reserves pages for the DPDK peers: give the free ones back for the test's length.
            assumeTrue(
                    Files.isWritable(POOL),
                    "this host has free huge pages; emptying the pool needs root (" + POOL + ")");
            Files.writeString(POOL, String.valueOf(saved - free));
        }
        try {
            assumeTrue(HugePages.free() == 0, "the kernel kept free huge pages (surplus or in-flight)");
            Set<Integer> before = OpenFds.snapshot();
            IllegalStateException e = assertThrows(
                    IllegalStateException.class,
                    () -> MemoryTable.builder()
                            .backing(Backing.HUGETLB)
                            .region(0, 4 * MIB)
                            .build());
            assertTrue(e.getMessage().contains("need 2 free 2 MiB huge pages"), e.getMessage());
            assertTrue(e.getMessage().contains("/proc/sys/vm/nr_hugepages"), e.getMessage());
            assertEquals("", OpenFds.leakedSince(before));
        } finally {
            if (free > 0) {
                Files.writeString(POOL, String.valueOf(saved));
            }
        }
        assertEquals(saved, HugePages.total(), "the pool is back at its size before the test");
    }

    @Test
    void hugePagesBackGuestMemoryWhenThePoolHasThem() throws Exception {
        // POOL, not /proc/sys/vm/nr_hugepages: a sysctl read at a non-zero offset returns EOF, and
        // Files.readString reads a size-0 file one byte first, so "258" read back as "2" there.
        Path nr = POOL;
        assumeTrue(Files.isWritable(nr), "needs root to grow the huge page pool (" + nr + ")");
        long saved = HugePages.total();
        try {
            Files.writeString(nr, String.valueOf(saved + 2));
            assumeTrue(HugePages.free() >= 2, "the kernel could not allocate 2 huge pages (memory fragmented)");
            try (MemoryTable mem = MemoryTable.builder()
                    .backing(Backing.HUGETLB)
                    .region(0, 4 * MIB)
                    .build()) {
                mem.putLong(3 * MIB, 42);
                assertEquals(42, mem.getLong(3 * MIB));
                assertEquals(0, mem.regions().get(0).hva() % (2 * MIB), "mapped on a huge page boundary");
                assertThrows(
                        IllegalArgumentException.class,
                        () -> MemoryTable.builder()
                                .backing(Backing.HUGETLB)
                                .region(0, MIB)
                                .build());
            }
        } finally {
            Files.writeString(nr, String.valueOf(saved));
        }
        assertEquals(saved, HugePages.total(), "the pool is back at its size before the test");
    }

    @Test
    void readsMaxMemRegionsFromTheModuleOrDefaultsTo64(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path param = dir.resolve("max_mem_regions");
        assertEquals(64, VhostLimits.maxMemRegions(param));
        Files.writeString(param, "509\n");
        assertEquals(509, VhostLimits.maxMemRegions(param));
    }

    @Test
    void refusesToCloseWhileALeaseIsHeldNamingTheHolderAndClosesOnceAllAreReleased() throws Exception {
        MemoryTable ram = MemoryTable.builder().region(0, 1 << 20).build();
        MemoryTable.Lease device = ram.lease("vhost-net device on tap vn0");
        MemoryTable.Lease loop = ram.lease("emulated device on tap vn1");
        IllegalStateException e = assertThrows(IllegalStateException.class, ram::close);
        assertEquals(
                "guest memory is still used by vhost-net device on tap vn0, emulated device on tap vn1: close them "
                        + "first (their kernel workers or threads would write into unmapped memory)",
                e.getMessage());
        assertTrue(ram.isOpen(), "a refused close unmaps nothing");
        ram.putInt(0x100, 42);
        device.close();
        device.close();
        assertThrows(IllegalStateException.class, ram::close, "one lease is still held");
        loop.close();
        ram.close();
        assertFalse(ram.isOpen());
        assertThrows(IllegalStateException.class, () -> ram.lease("late"), "a closed table gives no lease");
    }
}
