package dev.vhostnet.driver;

import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_EVENT_IDX;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_IDX;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_RING;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_ADDR;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_INDIRECT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_NEXT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_WRITE;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_LEN;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_NEXT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_IDX;
import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.ring.Segment;
import dev.vhostnet.ctl.ring.Used;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DriverQueueTest {
    private static final VringLayout RING = VringLayout.contiguous(0, 8);
    private static final long INDIRECT = 0x10000;
    private static final int TABLE = 4;
    private static final long BUFFERS = 0x20000;
    private static final long INDIRECT_DESC = bit(VIRTIO_RING_F_INDIRECT_DESC);
    private static final long EVENT_IDX = bit(VIRTIO_RING_F_EVENT_IDX);

    private MemoryTable memory;

    @BeforeEach
    void map() throws Exception {
        memory = MemoryTable.builder().region(0, 1 << 20).build();
    }

    @AfterEach
    void unmap() {
        memory.close();
    }

    private DriverQueue<String> queue(long features) {
        return DriverQueue.<String>builder(memory, RING, FeatureSet.of(features))
                .indirect(INDIRECT, TABLE)
                .build();
    }

    /** A queue with {@code chains} one-buffer chains published. */
    private DriverQueue<String> published(long features, int chains) {
        DriverQueue<String> q = queue(features);
        for (int i = 0; i < chains; i++) {
            q.addReadable(BUFFERS, 1, "t" + i);
        }
        q.publish();
        return q;
    }

    private static Segment buf(int i, int len) {
        return new Segment(BUFFERS + i * 4096L, len);
    }

    @Test
    void zeroesTheRingsAndPutsDescriptorsAndIndexesAtTheSpecOffsets() {
        for (long a = 0; a < VringLayout.contiguousBytes(8); a += 8) {
            memory.putLong(a, -1L);
        }
        DriverQueue<String> q = queue(0);
        assertEquals(0, memory.getLong(RING.descGpa() + 5 * VRING_DESC_SIZE));
        assertEquals(0, memory.getShort(RING.availGpa() + VRING_AVAIL_IDX));
        assertEquals(0, memory.getShort(RING.usedGpa() + VRING_USED_IDX));

        assertTrue(q.add(List.of(buf(0, 100)), List.of(buf(1, 200)), "a"));
        assertEquals(0, memory.getShort(RING.availGpa() + VRING_AVAIL_IDX), "invisible before publish");
        q.publish();

        assertEquals(1, memory.getShort(RING.availGpa() + VRING_AVAIL_IDX));
        int head = memory.getShort(RING.availGpa() + VRING_AVAIL_RING);
        long d = RING.descGpa() + (long) head * VRING_DESC_SIZE;
        assertEquals(BUFFERS, memory.getLong(d + VRING_DESC_ADDR));
        assertEquals(100, memory.getInt(d + VRING_DESC_LEN));
        assertEquals(VRING_DESC_F_NEXT, memory.getShort(d + VRING_DESC_FLAGS));
        int next = memory.getShort(d + VRING_DESC_NEXT);
        long n = RING.descGpa() + (long) next * VRING_DESC_SIZE;
        assertEquals(BUFFERS + 4096, memory.getLong(n + VRING_DESC_ADDR));
        assertEquals(200, memory.getInt(n + VRING_DESC_LEN));
        assertEquals(VRING_DESC_F_WRITE, memory.getShort(n + VRING_DESC_FLAGS));
        assertEquals(1, q.availIdx());
        assertEquals(6, q.freeDescriptors());
    }

    @Test
    void postsAMultiSegmentChainAsOneIndirectTableWhenNegotiated() {
        DriverQueue<String> q = queue(INDIRECT_DESC);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.of(INDIRECT_DESC));
        assertTrue(q.add(List.of(buf(0, 10), buf(1, 20)), List.of(buf(2, 30)), "x"));
        q.publish();
        assertEquals(7, q.freeDescriptors());

        SpecDeviceQueue.Chain chain = device.pop();
        assertTrue(chain.indirect());
        long d = RING.descGpa() + (long) chain.head() * VRING_DESC_SIZE;
        assertEquals(VRING_DESC_F_INDIRECT, memory.getShort(d + VRING_DESC_FLAGS));
        assertEquals(3 * VRING_DESC_SIZE, memory.getInt(d + VRING_DESC_LEN));
        assertEquals(INDIRECT + (long) chain.head() * TABLE * VRING_DESC_SIZE, memory.getLong(d + VRING_DESC_ADDR));
        assertEquals(
                List.of(
                        new SpecDeviceQueue.Desc(BUFFERS, 10, VRING_DESC_F_NEXT),
                        new SpecDeviceQueue.Desc(BUFFERS + 4096, 20, VRING_DESC_F_NEXT),
                        new SpecDeviceQueue.Desc(BUFFERS + 8192, 30, VRING_DESC_F_WRITE)),
                chain.descs());

        device.pushUsed(chain.head(), 30);
        assertEquals(List.of(new Used<>("x", 30)), q.poll());
        assertEquals(8, q.freeDescriptors());
    }

    @Test
    void chainsDescriptorsDirectlyWithoutIndirectOrForAChainLongerThanATable() {
        DriverQueue<String> plain = queue(0);
        assertFalse(plain.usesIndirect());
        assertTrue(plain.add(List.of(buf(0, 10), buf(1, 20)), List.of(), "two"));
        assertEquals(6, plain.freeDescriptors());

        DriverQueue<String> q = queue(INDIRECT_DESC);
        List<Segment> five = List.of(buf(0, 1), buf(1, 1), buf(2, 1), buf(3, 1), buf(4, 1));
        assertTrue(q.add(five, List.of(), "five"));
        q.publish();
        assertEquals(3, q.freeDescriptors());
        SpecDeviceQueue.Chain chain = new SpecDeviceQueue(memory, RING, FeatureSet.of(INDIRECT_DESC)).pop();
        assertFalse(chain.indirect());
        assertEquals(5, chain.descs().size());
    }

    @Test
    void addReturnsFalseWhenTheRingIsFullAndSucceedsAfterAPoll() {
        DriverQueue<String> q = queue(0);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.NONE);
        for (int i = 0; i < 8; i++) {
            assertTrue(q.addWritable(BUFFERS + i * 4096L, 64, "t" + i));
        }
        assertFalse(q.addReadable(BUFFERS, 64, "late"));
        assertFalse(q.add(List.of(buf(0, 64)), List.of(), "late"));
        assertFalse(q.canAdd(1));
        q.publish();

        SpecDeviceQueue.Chain first = device.pop();
        device.pushUsed(first.head(), 64);
        assertEquals(List.of(new Used<>("t0", 64)), q.poll());
        assertTrue(q.add(List.of(buf(0, 64)), List.of(), "again"));
        assertThrows(
                IllegalArgumentException.class,
                () -> q.add(
                        List.of(
                                buf(0, 1), buf(1, 1), buf(2, 1), buf(3, 1), buf(4, 1), buf(5, 1), buf(6, 1), buf(7, 1),
                                buf(8, 1)),
                        List.of(),
                        "too long"));
    }

    @Test
    void theFreeListNeverLeaksAcrossManyMixedChains() {
        for (long features : new long[] {0, INDIRECT_DESC}) {
            DriverQueue<Integer> q = DriverQueue.<Integer>builder(memory, RING, FeatureSet.of(features))
                    .indirect(INDIRECT, TABLE)
                    .build();
            SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.of(features));
            Random random = new Random(42);
            List<Integer> expected = new ArrayList<>();
            List<Integer> seen = new ArrayList<>();
            for (int cycle = 0; cycle < 20_000; cycle++) {
                int segments = 1 + random.nextInt(5);
                List<Segment> segs = new ArrayList<>();
                for (int s = 0; s < segments; s++) {
                    segs.add(buf(s, 1 + s));
                }
                if (q.canAdd(segments)) {
                    assertTrue(q.add(segs.subList(0, segments / 2), segs.subList(segments / 2, segments), cycle));
                    expected.add(cycle);
                    q.publish();
                }
                for (int k = random.nextInt(3); k > 0; k--) {
                    SpecDeviceQueue.Chain c = device.pop();
                    if (c != null) {
                        int n = c.descs().size();
                        assertEquals(features != 0 && n > 1 && n <= TABLE, c.indirect());
                        device.pushUsed(c.head(), c.writableBytes());
                    }
                }
                q.poll(random.nextInt(3), (token, len) -> seen.add(token));
            }
            for (SpecDeviceQueue.Chain c = device.pop(); c != null; c = device.pop()) {
                device.pushUsed(c.head(), 0);
            }
            q.poll(Integer.MAX_VALUE, (token, len) -> seen.add(token));
            assertEquals(expected, seen, "every chain comes back once, in order");
            assertEquals(8, q.freeDescriptors());
            for (int i = 0; i < 8; i++) {
                assertTrue(q.addReadable(BUFFERS, 1, i));
            }
        }
    }

    @Test
    void withEventIdxNoKickIsNeededWhileTheDeviceIsStillProcessing() {
        DriverQueue<String> q = queue(EVENT_IDX);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.of(EVENT_IDX));
        assertTrue(q.addReadable(BUFFERS, 1, "a"));
        q.publish();
        assertTrue(q.needsKick(), "avail_event 0 lies in [0, 1)");
        assertFalse(q.needsKick(), "nothing published since");

        device.updateAvailEvent(false);
        assertNotNull(device.pop());
        assertTrue(q.addReadable(BUFFERS, 1, "b"));
        q.publish();
        assertFalse(q.needsKick(), "the device has not asked for a kick past 0");

        device.setAvailEvent(2);
        assertTrue(q.addReadable(BUFFERS, 1, "c"));
        assertTrue(q.addReadable(BUFFERS, 1, "d"));
        q.publish();
        assertTrue(q.needsKick(), "avail_event 2 lies in [2, 4)");
    }

    @Test
    void withoutEventIdxTheUsedRingNoNotifyFlagSuppressesKicks() {
        DriverQueue<String> q = queue(0);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.NONE);
        device.setNoNotify(true);
        assertTrue(q.addReadable(BUFFERS, 1, "a"));
        q.publish();
        assertFalse(q.needsKick());
        device.setNoNotify(false);
        assertTrue(q.addReadable(BUFFERS, 1, "b"));
        q.publish();
        assertTrue(q.needsKick());
    }

    @Test
    void interruptsAreSuppressedWithTheAvailFlagAndEnablingReportsWhatArrivedMeanwhile() {
        DriverQueue<String> q = queue(0);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.NONE);
        q.addReadable(BUFFERS, 1, "a");
        q.addReadable(BUFFERS, 1, "b");
        q.publish();

        q.disableInterrupts();
        assertEquals(1, memory.getShort(RING.availGpa() + VRING_AVAIL_FLAGS));
        device.pushUsed(device.pop().head(), 0);
        assertEquals(0, device.interrupts());
        assertTrue(q.enableInterrupts(), "a used element arrived while disabled");
        assertEquals(0, memory.getShort(RING.availGpa() + VRING_AVAIL_FLAGS));
        assertEquals(1, q.poll().size());
        assertFalse(q.enableInterrupts());
        device.pushUsed(device.pop().head(), 0);
        assertEquals(1, device.interrupts());
    }

    @Test
    void withEventIdxUsedEventAsksForTheNextElementOnlyWhileEnabled() {
        DriverQueue<String> q = published(EVENT_IDX, 6);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.of(EVENT_IDX));
        device.pushUsed(device.pop().head(), 0);
        assertEquals(1, device.interrupts(), "used_event 0 passed");
        device.pushUsed(device.pop().head(), 0);
        assertEquals(1, device.interrupts(), "the driver has not polled: used_event still 0");
        assertEquals(2, q.poll().size());
        device.pushUsed(device.pop().head(), 0);
        assertEquals(2, device.interrupts(), "polling moved used_event to 2");

        q.disableInterrupts();
        assertEquals(1, q.poll().size());
        device.pushUsed(device.pop().head(), 0);
        device.pushUsed(device.pop().head(), 0);
        assertEquals(2, device.interrupts());
        assertTrue(q.enableInterrupts());
        assertEquals(2, q.poll().size());
        assertFalse(q.enableInterrupts());
        device.pushUsed(device.pop().head(), 0);
        assertEquals(3, device.interrupts());
    }

    @Test
    void enablingAfterACountAsksForAnInterruptOnlyAtThatManyUsedElements() {
        DriverQueue<String> q = published(EVENT_IDX, 8);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.of(EVENT_IDX));
        q.disableInterrupts();
        assertFalse(q.enableInterruptsAfter(3), "nothing used yet");
        device.pushUsed(device.pop().head(), 0);
        device.pushUsed(device.pop().head(), 0);
        assertEquals(0, device.interrupts(), "two used: not yet");
        assertFalse(q.enableInterruptsAfter(3), "two of three waiting");
        device.pushUsed(device.pop().head(), 0);
        assertEquals(1, device.interrupts(), "the third brings the interrupt");
        assertTrue(q.enableInterruptsAfter(3), "three waiting: poll instead of waiting");

        q.disableInterrupts();
        assertEquals(3, q.poll().size());
        assertFalse(q.enableInterruptsAfter(1));
        device.pushUsed(device.pop().head(), 0);
        assertEquals(2, device.interrupts(), "a count of 1 is the next element");
        assertThrows(IllegalArgumentException.class, () -> q.enableInterruptsAfter(0));
        assertThrows(IllegalArgumentException.class, () -> q.enableInterruptsAfter(9));
    }

    @Test
    void withoutEventIdxEnablingAfterACountInterruptsAtTheNextElement() {
        DriverQueue<String> q = published(0, 1);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.NONE);
        q.disableInterrupts();
        assertFalse(q.enableInterruptsAfter(4));
        assertEquals(0, memory.getShort(RING.availGpa() + VRING_AVAIL_FLAGS));
        device.pushUsed(device.pop().head(), 0);
        assertEquals(1, device.interrupts());
    }

    @Test
    void sixteenBitIndexesWrapAroundFromAStartIndexNear65535() {
        DriverQueue<Integer> q = DriverQueue.<Integer>builder(memory, RING, FeatureSet.of(EVENT_IDX))
                .startIndex(65530)
                .build();
        assertEquals(65530, memory.getShort(RING.availGpa() + VRING_AVAIL_IDX) & 0xffff);
        assertEquals(65530, memory.getShort(RING.usedGpa() + VRING_USED_IDX) & 0xffff);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.of(EVENT_IDX), 65530);
        int kicks = 0;
        for (int i = 0; i < 100; i++) {
            assertTrue(q.addReadable(BUFFERS, 1, i));
            assertTrue(q.addReadable(BUFFERS, 1, -i));
            q.publish();
            kicks += q.needsKick() ? 1 : 0;
            for (SpecDeviceQueue.Chain c = device.pop(); c != null; c = device.pop()) {
                device.pushUsed(c.head(), i);
            }
            assertEquals(List.of(new Used<>(i, i), new Used<>(-i, i)), q.poll());
        }
        assertEquals(100, kicks);
        assertEquals((65530 + 200) & 0xffff, q.availIdx());
        assertEquals(q.availIdx(), q.lastUsedIdx());
        assertEquals(q.availIdx(), q.usedIdx());
        assertEquals(8, q.freeDescriptors());
    }

    @Test
    void aDeviceRestartedAtTheBaseItReportedCarriesOnWithTheLiveQueue() {
        DriverQueue<String> q = queue(0);
        SpecDeviceQueue before = new SpecDeviceQueue(memory, RING, FeatureSet.NONE);
        for (String t : List.of("a", "b", "c")) {
            q.addReadable(BUFFERS, 1, t);
        }
        q.publish();
        before.pushUsed(before.pop().head(), 0);
        before.pushUsed(before.pop().head(), 0);
        int base = before.lastAvail();

        SpecDeviceQueue after = new SpecDeviceQueue(memory, RING, FeatureSet.NONE, base);
        q.addReadable(BUFFERS, 1, "d");
        q.publish();
        for (SpecDeviceQueue.Chain c = after.pop(); c != null; c = after.pop()) {
            after.pushUsed(c.head(), 0);
        }
        assertEquals(
                List.of("a", "b", "c", "d"), q.poll().stream().map(Used::token).toList());
        assertEquals(8, q.freeDescriptors());
    }

    @Test
    void aUsedElementForADescriptorNotInFlightIsRejected() {
        DriverQueue<String> q = queue(0);
        SpecDeviceQueue device = new SpecDeviceQueue(memory, RING, FeatureSet.NONE);
        q.addReadable(BUFFERS, 1, "a");
        q.publish();
        device.pushUsed(5, 0);
        IllegalStateException e = assertThrows(IllegalStateException.class, q::poll);
        assertTrue(e.getMessage().contains("device used descriptor 5"), e.getMessage());
    }

    @Test
    void refusesALayoutOutsideGuestMemoryAndUseAfterTheMemoryIsClosed() {
        VringLayout outside = VringLayout.contiguous(1 << 20, 8);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> DriverQueue.builder(memory, outside, FeatureSet.NONE)
                        .name("queue 1 (TX)")
                        .build());
        assertTrue(e.getMessage().contains("queue 1 (TX)"), e.getMessage());
        DriverQueue<String> q = queue(0);
        memory.close();
        assertThrows(IllegalStateException.class, () -> q.addReadable(BUFFERS, 1, "a"));
    }
}
