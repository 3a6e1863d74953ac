package dev.vhostnet.ctl.device;

import static dev.vhostnet.sys.VirtioUapi.VIRTIO_F_NOTIFY_ON_EMPTY;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_EVENT_IDX;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_F_NO_INTERRUPT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_INDIRECT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_NEXT;
import static dev.vhostnet.sys.VirtioUapi.VRING_DESC_F_WRITE;
import static dev.vhostnet.sys.VirtioUapi.VRING_USED_F_NO_NOTIFY;
import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.device.DescriptorChain.Segment;
import dev.vhostnet.ctl.device.QueueCounters.Event;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DeviceQueueTest {
    static final int N = VRING_DESC_F_NEXT;
    static final int W = VRING_DESC_F_WRITE;
    static final int I = VRING_DESC_F_INDIRECT;
    static final long INDIRECT = bit(VIRTIO_RING_F_INDIRECT_DESC);
    static final long EVENT_IDX = bit(VIRTIO_RING_F_EVENT_IDX);

    /** Region A: [0, 2 MiB), then a hole, then region B: [4 MiB, 4 MiB + 64 KiB). */
    static final long A = 0;

    static final long A_SIZE = 0x200000;
    static final long B = 0x400000;
    static final long B_SIZE = 0x10000;
    static final long BUF = 0x10000;
    static final long TABLE = 0x8000;

    MemoryTable memory;
    RawRing ring;

    @BeforeEach
    void guest() throws Exception {
        memory = MemoryTable.builder().region(A, A_SIZE).region(B, B_SIZE).build();
        ring = new RawRing(memory, VringLayout.contiguous(0, 8)).clear();
    }

    @AfterEach
    void close() {
        memory.close();
    }

    DeviceQueue queue(long features) {
        return new DeviceQueue(memory, ring.layout, FeatureSet.of(features), "test");
    }

    // --- well-formed chains ---------------------------------------------------------------------

    @Test
    void popsADirectChainWithItsReadableThenWritableSegments() {
        ring.desc(3, BUF, 100, N, 5)
                .desc(5, BUF + 0x1000, 200, N | W, 1)
                .desc(1, B, 300, W, 0)
                .post(3);
        DeviceQueue q = queue(0);

        DescriptorChain c = q.pop().orElseThrow();

        assertEquals(3, c.head());
        assertEquals(List.of(new Segment(BUF, 100)), c.readable());
        assertEquals(List.of(new Segment(BUF + 0x1000, 200), new Segment(B, 300)), c.writable());
        assertEquals(100, c.readableBytes());
        assertEquals(500, c.writableBytes());
        assertEquals(3, c.descriptors());
        assertFalse(c.isIndirect());
        assertEquals(1, q.nextAvail());
        assertEquals(1, q.inFlight());
        assertTrue(q.pop().isEmpty(), "nothing more was made available");
        assertFalse(q.isBroken());
    }

    @Test
    void popsAnIndirectChain() {
        ring.descAt(TABLE, 0, BUF, 10, N, 2)
                .descAt(TABLE, 2, BUF + 0x100, 20, N | W, 1)
                .descAt(TABLE, 1, B, 30, W, 0);
        ring.desc(6, TABLE, 3 * 16, I, 0).post(6);
        DeviceQueue q = queue(INDIRECT);

        DescriptorChain c = q.pop().orElseThrow();

        assertEquals(6, c.head());
        assertTrue(c.isIndirect());
        assertEquals(List.of(new Segment(BUF, 10)), c.readable());
        assertEquals(List.of(new Segment(BUF + 0x100, 20), new Segment(B, 30)), c.writable());
        assertEquals(4, c.descriptors(), "the head and three table entries");
    }

    @Test
    void gathersReadableBytesAndScattersIntoWritableOnes() {
        byte[] hello = "hello, ".getBytes(StandardCharsets.US_ASCII);
        byte[] world = "world".getBytes(StandardCharsets.US_ASCII);
        memory.write(BUF, hello, 0, hello.length);
        memory.write(B + 0x40, world, 0, world.length);
        ring.desc(0, BUF, hello.length, N, 1)
                .desc(1, B + 0x40, world.length, N, 2)
                .desc(2, BUF + 0x800, 4, N | W, 3)
                .desc(3, B + 0x800, 6, W, 0)
                .post(0);
        DescriptorChain c = queue(0).pop().orElseThrow();

        assertEquals("hello, world", new String(c.readAll(), StandardCharsets.US_ASCII));
        byte[] part = new byte[5];
        assertEquals(5, c.read(6, part, 0, 5), "a read from an offset crosses segments");
        assertEquals(" worl", new String(part, StandardCharsets.US_ASCII));
        assertEquals(2, c.read(10, part, 0, 5), "only what is left");
        assertEquals(0, c.read(12, part, 0, 5));
        ByteBuffer direct = ByteBuffer.allocateDirect(20);
        assertEquals(12, c.read(0, direct));
        assertEquals(12, direct.position());

        byte[] reply = "0123456789AB".getBytes(StandardCharsets.US_ASCII);
        assertEquals(10, c.write(0, reply, 0, reply.length), "only the 10 writable bytes are written");
        byte[] got = new byte[6];
        memory.read(BUF + 0x800, got, 0, 4);
        assertEquals("0123", new String(got, 0, 4, StandardCharsets.US_ASCII));
        memory.read(B + 0x800, got, 0, 6);
        assertEquals("456789", new String(got, StandardCharsets.US_ASCII));
        ByteBuffer src = ByteBuffer.allocateDirect(8)
                .put("abcdefgh".getBytes(StandardCharsets.US_ASCII))
                .flip();
        assertEquals(8, c.write(2, src));
        assertFalse(src.hasRemaining());
        memory.read(B + 0x800, got, 0, 6);
        assertEquals("cdefgh", new String(got, StandardCharsets.US_ASCII));
    }

    @Test
    void popIntoReusesOneHolderWithoutCarryingOldSegments() {
        ring.desc(0, BUF, 10, N, 1)
                .desc(1, BUF + 10, 10, W, 0)
                .desc(2, BUF + 20, 5, 0, 0)
                .post(0, 2);
        DeviceQueue q = queue(0);
        DescriptorChain holder = new DescriptorChain();

        assertTrue(q.popInto(holder));
        assertEquals(1, holder.writableCount());
        assertTrue(q.popInto(holder));
        assertEquals(2, holder.head());
        assertEquals(List.of(new Segment(BUF + 20, 5)), holder.readable());
        assertEquals(0, holder.writableCount());
        assertFalse(q.popInto(holder));
    }

    @Test
    void aChainAsLongAsTheRingIsAccepted() {
        for (int i = 0; i < 8; i++) {
            ring.desc(i, BUF + 16L * i, 16, i < 7 ? N : 0, i + 1);
        }
        ring.post(0);
        assertEquals(8, queue(0).pop().orElseThrow().readableCount());
    }

    @Test
    void usedElementsBecomeVisibleOnlyOnFlushInOrder() {
        ring.desc(0, BUF, 10, W, 0).desc(1, BUF + 10, 10, W, 0).post(1, 0);
        DeviceQueue q = queue(0);
        DescriptorChain first = q.pop().orElseThrow();
        DescriptorChain second = q.pop().orElseThrow();

        q.pushUsed(first.head(), 7);
        q.pushUsed(second.head(), 9);
        assertEquals(0, ring.usedIdx(), "not published before the flush");
        q.flushUsed();

        assertEquals(2, ring.usedIdx());
        assertEquals(1, ring.usedId(0));
        assertEquals(7, ring.usedLen(0));
        assertEquals(0, ring.usedId(1));
        assertEquals(9, ring.usedLen(1));
        assertEquals(0, q.inFlight());
        assertEquals(2, q.counters().get(Event.USED_PUSHED));
    }

    @Test
    void pushingMoreUsedThanInFlightIsTheDevicesBug() {
        DeviceQueue q = queue(0);
        assertThrows(IllegalStateException.class, () -> q.pushUsed(0, 0));
        assertThrows(IllegalArgumentException.class, () -> q.pushUsed(8, 0));
    }

    @Test
    void rewoundChainsArePoppedAgain() {
        ring.desc(0, BUF, 10, W, 0).desc(1, BUF + 10, 10, W, 0).post(0, 1);
        DeviceQueue q = queue(0);
        q.pop().orElseThrow();
        q.pop().orElseThrow();

        q.rewind(2);

        assertEquals(0, q.nextAvail());
        assertEquals(0, q.inFlight());
        assertEquals(0, q.pop().orElseThrow().head());
        assertEquals(1, q.pop().orElseThrow().head());
        q.pushUsed(1, 0);
        assertThrows(IllegalArgumentException.class, () -> q.rewind(2), "one is already pushed");
    }

    @Test
    void indicesWrapAt16Bits() {
        ring.setUsedIdx(65534);
        ring.setAvailIdx(65534);
        for (int i = 0; i < 4; i++) {
            ring.desc(i, BUF + 64L * i, 64, W, 0);
        }
        ring.post(0, 1, 2, 3);
        DeviceQueue q = queue(0);
        q.setNextAvail(65534);
        assertEquals(0, q.inFlight());

        for (int expected = 0; expected < 4; expected++) {
            DescriptorChain c = q.pop().orElseThrow();
            assertEquals(expected, c.head(), "entries 6, 7, 0, 1 of the available ring");
            q.pushUsed(c.head(), 64);
        }
        q.flushUsed();

        assertEquals(2, q.nextAvail());
        assertEquals(2, ring.usedIdx());
        assertEquals(0, ring.usedId(6));
        assertEquals(3, ring.usedId(1));
        assertFalse(q.isBroken());
    }

    @Test
    void resumingTakesTheUsedIndexFromGuestMemoryAndCountsTheGapInFlight() {
        ring.setUsedIdx(100);
        DeviceQueue q = queue(0);
        q.setNextAvail(103);
        assertEquals(100, q.nextUsed());
        assertEquals(3, q.inFlight());
    }

    // --- hostile rings ---------------------------------------------------------------------------

    /** Checks the queue broke by {@code v} alone, returned {@code head} (if any) with length 0, and stays broken. */
    void assertBrokenBy(DeviceQueue q, Violation v, Integer head) {
        assertTrue(q.isBroken(), "broken");
        assertEquals(Optional.of(v), q.violation());
        assertTrue(
                q.brokenReason().orElseThrow().startsWith(v.description()),
                q.brokenReason().orElseThrow());
        assertEquals(1, q.counters().get(v), v.counterName());
        assertEquals(1, q.counters().violations(), "no other rule counted: " + q.counters());
        if (head != null) {
            assertEquals(1, ring.usedIdx(), "the bad chain was returned");
            assertEquals(head, ring.usedId(0));
            assertEquals(0, ring.usedLen(0), "with used length 0");
            assertEquals(1, q.counters().get(Event.BAD_CHAINS_RETURNED));
            assertEquals(0, q.inFlight());
        } else {
            assertEquals(0, ring.usedIdx(), "no chain to return");
        }
        // A good chain made available afterwards is not popped: the device needs a reset.
        ring.desc(7, BUF, 8, 0, 0).post(7);
        assertTrue(q.pop().isEmpty());
        assertTrue(q.isEmpty());
        assertEquals(1, q.counters().violations(), "logged and counted once");
    }

    DeviceQueue popBad(long features, int head) {
        ring.post(head);
        DeviceQueue q = queue(features);
        assertTrue(q.pop().isEmpty());
        return q;
    }

    @Test
    void anAvailableIndexMoreThanTheRingSizeAheadBreaksTheQueue() {
        ring.setAvailIdx(9);
        DeviceQueue q = queue(0);
        assertTrue(q.pop().isEmpty());
        assertBrokenBy(q, Violation.AVAIL_IDX_JUMP, null);
    }

    @Test
    void anAvailableIndexBehindTheLastSeenBreaksTheQueue() {
        ring.desc(0, BUF, 8, 0, 0).post(0, 0);
        DeviceQueue q = queue(0);
        q.pop().orElseThrow();
        ring.setAvailIdx(0);
        assertTrue(q.pop().isEmpty());
        assertTrue(q.isBroken());
        assertEquals(1, q.counters().get(Violation.AVAIL_IDX_JUMP), "65535 entries ahead");
    }

    @Test
    void aHeadPastTheDescriptorTableBreaksTheQueue() {
        assertBrokenBy(popBad(0, 8), Violation.HEAD_OUT_OF_RANGE, null);
    }

    @Test
    void aNextPastTheDescriptorTableBreaksTheQueue() {
        ring.desc(2, BUF, 8, N, 8);
        assertBrokenBy(popBad(0, 2), Violation.NEXT_OUT_OF_RANGE, 2);
    }

    @Test
    void aDescriptorLoopBreaksTheQueue() {
        ring.desc(0, BUF, 8, N, 1).desc(1, BUF, 8, N, 2).desc(2, BUF, 8, N, 0);
        assertBrokenBy(popBad(0, 0), Violation.CHAIN_TOO_LONG, 0);
    }

    @Test
    void aDescriptorThatChainsToItselfBreaksTheQueue() {
        ring.desc(4, BUF, 8, N, 4);
        DeviceQueue q = popBad(0, 4);
        assertBrokenBy(q, Violation.CHAIN_TOO_LONG, 4);
        assertEquals(8, q.counters().get(Event.DESCRIPTORS_READ), "the TTL stops the walk at the ring size");
    }

    @Test
    void aZeroLengthBufferBreaksTheQueue() {
        ring.desc(0, BUF, 0, 0, 0);
        assertBrokenBy(popBad(0, 0), Violation.ZERO_LENGTH, 0);
    }

    @Test
    void aBufferWhoseEndWrapsPast2To64BreaksTheQueue() {
        ring.desc(0, -16L, 0x20, 0, 0);
        assertBrokenBy(popBad(0, 0), Violation.ADDRESS_WRAPS, 0);
    }

    @Test
    void aBufferInTheHoleBetweenRegionsBreaksTheQueue() {
        ring.desc(0, BUF, 8, N, 1).desc(1, 0x300000, 8, W, 0);
        assertBrokenBy(popBad(0, 0), Violation.OUTSIDE_MEMORY, 0);
    }

    @Test
    void aBufferPastTheLastRegionBreaksTheQueue() {
        ring.desc(0, Long.MIN_VALUE + 5, 8, 0, 0);
        assertBrokenBy(popBad(0, 0), Violation.OUTSIDE_MEMORY, 0);
    }

    @Test
    void aBufferThatCrossesARegionEndBreaksTheQueue() {
        ring.desc(0, B + B_SIZE - 4, 8, W, 0);
        assertBrokenBy(popBad(0, 0), Violation.CROSSES_REGION_END, 0);
    }

    @Test
    void anIndirectTableWithoutTheFeatureBreaksTheQueue() {
        ring.descAt(TABLE, 0, BUF, 8, 0, 0).desc(0, TABLE, 16, I, 0);
        assertBrokenBy(popBad(0, 0), Violation.INDIRECT_NOT_NEGOTIATED, 0);
    }

    @Test
    void indirectTogetherWithNextBreaksTheQueue() {
        ring.descAt(TABLE, 0, BUF, 8, 0, 0).desc(0, TABLE, 16, I | N, 1).desc(1, BUF, 8, 0, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.INDIRECT_WITH_NEXT, 0);
    }

    @Test
    void anEmptyIndirectTableBreaksTheQueue() {
        ring.desc(0, TABLE, 0, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.INDIRECT_EMPTY, 0);
    }

    @Test
    void anIndirectTableLengthNotAMultipleOf16BreaksTheQueue() {
        ring.desc(0, TABLE, 24, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.INDIRECT_LENGTH_NOT_MULTIPLE, 0);
    }

    @Test
    void anIndirectTableLargerThanTheRingBreaksTheQueue() {
        ring.desc(0, TABLE, 9 * 16, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.INDIRECT_TOO_LARGE, 0);
    }

    @Test
    void anIndirectTableOutsideGuestMemoryBreaksTheQueue() {
        ring.desc(0, B + B_SIZE - 32, 64, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.INDIRECT_OUTSIDE_MEMORY, 0);
    }

    @Test
    void anIndirectTableWhoseEndWrapsBreaksTheQueue() {
        ring.desc(0, -32L, 64, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.INDIRECT_OUTSIDE_MEMORY, 0);
    }

    @Test
    void anIndirectDescriptorInsideAnIndirectTableBreaksTheQueue() {
        ring.descAt(TABLE, 0, BUF, 8, N, 1).descAt(TABLE, 1, TABLE, 32, I, 0).desc(0, TABLE, 32, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.NESTED_INDIRECT, 0);
    }

    @Test
    void anIndirectDescriptorAfterTheHeadBreaksTheQueue() {
        ring.descAt(TABLE, 0, BUF, 8, 0, 0).desc(0, BUF, 8, N, 1).desc(1, TABLE, 16, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.INDIRECT_NOT_AT_HEAD, 0);
    }

    @Test
    void aLoopInsideAnIndirectTableBreaksTheQueue() {
        ring.descAt(TABLE, 0, BUF, 8, N, 1).descAt(TABLE, 1, BUF, 8, N, 0).desc(0, TABLE, 32, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.CHAIN_TOO_LONG, 0);
    }

    @Test
    void aNextPastAnIndirectTableBreaksTheQueue() {
        ring.descAt(TABLE, 0, BUF, 8, N, 2).descAt(TABLE, 2, BUF, 8, 0, 0).desc(0, TABLE, 32, I, 0);
        assertBrokenBy(popBad(INDIRECT, 0), Violation.NEXT_OUT_OF_RANGE, 0);
    }

    @Test
    void aReadableBufferAfterAWritableOneBreaksTheQueue() {
        ring.desc(0, BUF, 8, N | W, 1).desc(1, BUF + 8, 8, 0, 0);
        assertBrokenBy(popBad(0, 0), Violation.READABLE_AFTER_WRITABLE, 0);
    }

    @Test
    void aChainLongerThan4GiBBreaksTheQueue() {
        // 4097 table entries, each the same 1 MiB buffer: 4097 MiB in all.
        ring = new RawRing(memory, VringLayout.contiguous(0, 8192)).clear();
        long table = 0x100000;
        for (int i = 0; i < 4097; i++) {
            ring.descAt(table, i, 0x100000, 0x100000, W | N, i + 1);
        }
        ring.descAt(table, 4097, 0x100000, 8, W, 0);
        ring.desc(0, table, 4098 * 16, I, 0).post(0);
        DeviceQueue q = queue(INDIRECT);
        assertTrue(q.pop().isEmpty());
        assertTrue(q.isBroken());
        assertEquals(Optional.of(Violation.TOTAL_LENGTH_OVERFLOW), q.violation());
        assertEquals(0, ring.usedLen(0));
        assertEquals(1, ring.usedIdx());
    }

    @Test
    void moreChainsInFlightThanTheRingSizeBreaksTheQueue() {
        ring.desc(0, BUF, 8, 0, 0);
        for (int i = 0; i < 8; i++) {
            ring.post(0);
        }
        DeviceQueue q = queue(0);
        for (int i = 0; i < 8; i++) {
            q.pop().orElseThrow();
        }
        ring.post(0); // a ninth buffer while the device holds all eight
        assertTrue(q.pop().isEmpty());
        assertBrokenBy(q, Violation.IN_FLIGHT_EXCEEDS_SIZE, null);
    }

    @Test
    void resumingFromABaseFarPastTheUsedIndexBreaksTheQueue() {
        ring.setUsedIdx(5);
        DeviceQueue q = queue(0);
        q.setNextAvail(50);
        assertEquals(Optional.of(Violation.IN_FLIGHT_EXCEEDS_SIZE), q.violation());
    }

    @Test
    void resetRecoversABrokenQueue() {
        ring.desc(0, BUF, 8, N, 9);
        DeviceQueue q = popBad(0, 0);
        assertTrue(q.isBroken());

        q.reset();
        ring.clear().desc(0, BUF, 8, 0, 0).post(0);

        assertFalse(q.isBroken());
        assertEquals(0, q.pop().orElseThrow().head());
        assertEquals(1, q.counters().get(Violation.NEXT_OUT_OF_RANGE), "counters are cumulative");
    }

    @Test
    void countersAreNamedOnePerRule() {
        var names = queue(0).counters().snapshot().keySet();
        for (Violation v : Violation.values()) {
            assertTrue(names.contains(v.counterName()), v.counterName());
        }
        assertEquals(Violation.values().length + Event.values().length, names.size(), "names are distinct");
    }

    // --- notifications ---------------------------------------------------------------------------

    @Test
    void needEventFollowsVringNeedEventWithWrap() {
        assertTrue(DeviceQueue.needEvent(4, 5, 3), "used_event 4 was passed");
        assertTrue(DeviceQueue.needEvent(3, 5, 3), "used_event equal to the old index");
        assertFalse(DeviceQueue.needEvent(5, 5, 3), "used_event 5 not yet passed");
        assertFalse(DeviceQueue.needEvent(2, 5, 3), "used_event passed before the last interrupt");
        assertTrue(DeviceQueue.needEvent(0xffff, 1, 0xfffe), "across the 16-bit wrap");
        assertTrue(DeviceQueue.needEvent(0, 1, 0xfffe));
        assertFalse(DeviceQueue.needEvent(1, 1, 0xfffe));
        assertFalse(DeviceQueue.needEvent(7, 7, 7), "nothing moved");
    }

    void completeOne(DeviceQueue q, int head) {
        ring.post(head);
        q.pushUsed(q.pop().orElseThrow().head(), 1);
        q.flushUsed();
    }

    @Test
    void withEventIdxTheDriverIsInterruptedOnlyWhenTheUsedIndexPassesUsedEvent() {
        ring.desc(0, BUF, 8, W, 0);
        DeviceQueue q = queue(EVENT_IDX);
        ring.setUsedEvent(5);
        completeOne(q, 0);
        assertTrue(q.needsNotification(), "the first decision always interrupts");
        completeOne(q, 0); // used 2
        assertFalse(q.needsNotification(), "used_event 5 not reached");
        completeOne(q, 0);
        completeOne(q, 0);
        completeOne(q, 0); // used 5
        assertFalse(q.needsNotification(), "idx 5 means entry 5 not yet used");
        completeOne(q, 0); // used 6
        assertTrue(q.needsNotification());
        assertEquals(
                2, q.counters().get(Event.NOTIFICATIONS_SUPPRESSED), "the two decisions before used_event was passed");
    }

    @Test
    void withEventIdxTheRuleHoldsAcrossTheWrapOfTheUsedIndex() {
        ring.desc(0, BUF, 8, W, 0).setUsedIdx(65534).setAvailIdx(65534);
        DeviceQueue q = queue(EVENT_IDX);
        q.setNextAvail(65534);
        ring.setUsedEvent(65535);
        completeOne(q, 0); // used 65535
        assertTrue(q.needsNotification());
        ring.setUsedEvent(0);
        completeOne(q, 0); // used 0: entry 65535 used, event 0 not passed
        assertFalse(q.needsNotification());
        completeOne(q, 0); // used 1: passes 0
        assertTrue(q.needsNotification());
    }

    @Test
    void withoutEventIdxNoInterruptSuppressesInterrupts() {
        ring.desc(0, BUF, 8, W, 0);
        DeviceQueue q = queue(0);
        completeOne(q, 0);
        assertTrue(q.needsNotification());
        ring.setAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
        completeOne(q, 0);
        assertFalse(q.needsNotification());
    }

    @Test
    void notifyOnEmptyInterruptsWhenTheQueueRanDryDespiteNoInterrupt() {
        ring.desc(0, BUF, 8, W, 0).setAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
        DeviceQueue q = queue(bit(VIRTIO_F_NOTIFY_ON_EMPTY));
        completeOne(q, 0);
        assertTrue(q.needsNotification(), "nothing available, nothing in flight");
        ring.post(0);
        q.pop().orElseThrow();
        assertFalse(q.needsNotification(), "a chain is in flight");
    }

    @Test
    void disablingKicksSetsNoNotifyAndEnablingClearsItAndLooksAgain() {
        ring.desc(0, BUF, 8, 0, 0);
        DeviceQueue q = queue(0);
        q.disableNotifications();
        assertEquals(VRING_USED_F_NO_NOTIFY, ring.usedFlags());
        assertTrue(q.enableNotifications(), "nothing available: safe to wait");
        assertEquals(0, ring.usedFlags());

        q.disableNotifications();
        ring.post(0); // the driver posts while kicks are off, and will not kick
        assertFalse(q.enableNotifications(), "the re-check finds the new buffer");
        assertTrue(q.pop().isPresent());
        assertTrue(q.enableNotifications());
    }

    @Test
    void withEventIdxPoppingMovesAvailEventUnlessKicksAreDisabled() {
        ring.desc(0, BUF, 8, 0, 0);
        DeviceQueue q = queue(EVENT_IDX);
        ring.post(0, 0, 0);
        q.pop().orElseThrow();
        assertEquals(1, ring.availEvent(), "kick me when entry 1 is made available");
        q.disableNotifications();
        assertEquals(0, ring.usedFlags(), "the flag is not used with EVENT_IDX");
        q.pop().orElseThrow();
        assertEquals(1, ring.availEvent(), "not moved while disabled");
        assertFalse(q.enableNotifications(), "entry 2 is still available");
        assertEquals(2, ring.availEvent());
        q.pop().orElseThrow();
        assertTrue(q.enableNotifications());
        assertEquals(3, ring.availEvent());
    }

    @Test
    void ringsOutsideGuestMemoryAreRejectedAtConstruction() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> new DeviceQueue(memory, VringLayout.contiguous(0x300000, 8), FeatureSet.NONE, "rx0"));
        assertTrue(e.getMessage().contains("descriptor table of rx0"), e.getMessage());
    }
}
