package dev.vhostnet.driver;

import static dev.vhostnet.sys.VirtioUapi.VIRTIO_F_VERSION_1;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_F_GUEST_TSO4;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_F_MRG_RXBUF;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_F_NEEDS_CSUM;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_GSO_TCPV4;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_EVENT_IDX;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC;
import static dev.vhostnet.sys.VirtioUapi.VRING_AVAIL_IDX;
import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class VirtioNetDriverTest {
    private static final long MRG = bit(VIRTIO_NET_F_MRG_RXBUF);
    private static final long INDIRECT = bit(VIRTIO_RING_F_INDIRECT_DESC);
    private static final long EVENT_IDX = bit(VIRTIO_RING_F_EVENT_IDX);
    private static final long TSO4 = bit(VIRTIO_NET_F_GUEST_TSO4);
    private static final int BIG = 65536;

    private MemoryTable memory;
    private EventFd rxKick;
    private EventFd txKick;
    private final Random random = new Random(7);

    @BeforeEach
    void open() throws Exception {
        memory = MemoryTable.builder().region(0, 4 << 20).build();
        rxKick = EventFd.create();
        txKick = EventFd.create();
    }

    @AfterEach
    void close() {
        memory.close();
        rxKick.close();
        txKick.close();
    }

    private record Setup(VirtioNetDriver driver, LoopbackDevice device) {}

    private Setup setup(long features, int ringSize, int bufferSize) {
        DriverMemory layout = DriverMemory.layout(0x1000, (4 << 20) - 0x1000, 1, ringSize, bufferSize);
        layout.checkIn(memory);
        DriverMemory.QueuePair pair = layout.queuePair(0);
        VirtioNetDriver driver = new VirtioNetDriver(memory, pair, FeatureSet.of(features), rxKick, txKick);
        return new Setup(driver, new LoopbackDevice(memory, pair, FeatureSet.of(features)));
    }

    private byte[] frame(int size) {
        byte[] f = new byte[size];
        random.nextBytes(f);
        return f;
    }

    private static RxFrame roundTrip(Setup s, VirtioNetHeader hdr, byte[] frame) throws Exception {
        s.driver().refillRx();
        assertTrue(s.driver().transmit(hdr, frame));
        assertEquals(1, s.device().run());
        RxFrame got = s.driver().receive().orElseThrow();
        assertArrayEquals(frame, got.frame(), "frame of " + frame.length + " bytes");
        assertEquals(1, s.driver().reclaimTx());
        return got;
    }

    @Test
    void framesOf60To1514AndOf64KiBRoundTripByteExactThroughMergeableBuffers() throws Exception {
        Setup s = setup(MRG | INDIRECT | EVENT_IDX | TSO4, 64, 2048);
        assertEquals(12, s.driver().headerSize());
        VirtioNetHeader gso =
                new VirtioNetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 0);
        for (int size = 60; size <= 1514; size++) {
            RxFrame got = roundTrip(s, gso, frame(size));
            assertEquals(
                    new VirtioNetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 1),
                    got.hdr());
        }
        assertEquals(0, s.device().tx.indirectChains());

        RxFrame big = roundTrip(s, gso, frame(BIG));
        assertEquals((BIG + 12 + 2047) / 2048, big.hdr().numBuffers());
        assertEquals(1, s.device().tx.indirectChains(), "the 64 KiB frame went out as one indirect chain");
        DriverCounters c = s.driver().counters();
        assertEquals(1456, c.txFrames());
        assertEquals(c.txFrames(), c.rxFrames());
        assertEquals(c.txBytes(), c.rxBytes());
        assertEquals(0, c.rxErrors());
    }

    @Test
    void framesRoundTripThroughWholeFrameBuffersWithoutMergeableBuffers() throws Exception {
        Setup legacy = setup(TSO4, 8, 10 + VirtioNetDriver.MAX_FRAME);
        assertEquals(10, legacy.driver().headerSize());
        for (int size : new int[] {60, 61, 1000, 1514, BIG}) {
            assertEquals(
                    VirtioNetHeader.NONE,
                    roundTrip(legacy, VirtioNetHeader.NONE, frame(size)).hdr());
        }
        memory.close();
        memory = MemoryTable.builder().region(0, 4 << 20).build();
        Setup modern = setup(bit(VIRTIO_F_VERSION_1), 8, 12 + VirtioNetDriver.SMALL_FRAME);
        assertEquals(12, modern.driver().headerSize());
        for (int size : new int[] {60, 1514}) {
            assertEquals(
                    1,
                    roundTrip(modern, VirtioNetHeader.NONE, frame(size)).hdr().numBuffers());
        }
    }

    @Test
    void rxBuffersTooSmallForTheNegotiatedFramesAreRefused() {
        IllegalArgumentException gso = assertThrows(IllegalArgumentException.class, () -> setup(TSO4, 8, 2048));
        assertTrue(gso.getMessage().contains("65550-byte frame (guest GSO negotiated)"), gso.getMessage());
        assertThrows(IllegalArgumentException.class, () -> setup(0, 8, 1000));
        IllegalArgumentException mrg = assertThrows(IllegalArgumentException.class, () -> setup(MRG | TSO4, 8, 2048));
        assertTrue(mrg.getMessage().contains("with MRG_RXBUF"), mrg.getMessage());
    }

    @Test
    void transmitReturnsFalseWhenTheRingIsFullAndRecoversOnceTheDeviceCatchesUp() throws Exception {
        Setup s = setup(MRG, 8, 2048);
        for (int i = 0; i < 8; i++) {
            assertTrue(s.driver().transmit(VirtioNetHeader.NONE, frame(100)));
        }
        assertFalse(s.driver().transmit(VirtioNetHeader.NONE, frame(100)));
        assertEquals(1, s.driver().counters().txFull());
        s.device().run();
        assertTrue(s.driver().transmit(ByteBuffer.wrap(frame(100))), "reclaims completed frames itself");
        assertEquals(7, s.driver().freeTxBuffers(), "seven reclaimed buffers free, one in flight");
    }

    @Test
    void moreThan65536FramesThroughARingOfEightWrapTheIndexesAndLeakNothing() throws Exception {
        Setup s = setup(MRG | EVENT_IDX, 8, 2048);
        ByteBuffer frame = ByteBuffer.allocate(64);
        int frames = 70_000;
        for (int i = 0; i < frames; i++) {
            s.driver().refillRx();
            frame.clear().putInt(0, i);
            assertTrue(s.driver().transmit(frame));
            assertEquals(1, s.device().run());
            assertEquals(
                    i,
                    ByteBuffer.wrap(s.driver().receive().orElseThrow().frame()).getInt(0));
        }
        s.driver().reclaimTx();
        assertEquals(8, s.driver().freeTxBuffers());
        assertEquals(1, s.driver().refillRx(), "the last frame's buffer");
        assertEquals(0, s.driver().freeRxBuffers(), "all RX buffers are posted");
        DriverCounters c = s.driver().counters();
        assertEquals(frames, c.txFrames());
        assertEquals(frames, c.rxFrames());
        assertEquals(64L * frames, c.rxBytes());
    }

    @Test
    void withEventIdxTheDriverKicksOnlyWhenTheDeviceAsks() throws Exception {
        Setup s = setup(MRG | EVENT_IDX, 8, 2048);
        assertTrue(s.driver().transmit(VirtioNetHeader.NONE, frame(60)));
        assertEquals(1, txKick.drain());
        s.device().tx.updateAvailEvent(false);
        s.device().run();
        assertTrue(s.driver().transmit(VirtioNetHeader.NONE, frame(60)));
        assertTrue(s.driver().transmit(VirtioNetHeader.NONE, frame(60)));
        assertEquals(0, txKick.drain(), "the device is still processing");
        s.device().tx.setAvailEvent(3);
        assertTrue(s.driver().transmit(VirtioNetHeader.NONE, frame(60)));
        assertEquals(1, txKick.drain());

        assertEquals(8, s.driver().refillRx());
        assertEquals(1, rxKick.drain());
        assertEquals(3, s.driver().counters().kicks());
    }

    @Test
    void aBatchOfEnqueuedFramesIsPublishedWithOneKick() throws Exception {
        Setup s = setup(MRG, 8, 2048);
        s.driver().refillRx();
        for (int i = 0; i < 5; i++) {
            assertTrue(s.driver().enqueue(VirtioNetHeader.NONE, frame(60), 0, 60));
        }
        assertEquals(0, s.device().run(), "nothing published yet");
        s.driver().flush();
        assertEquals(1, txKick.drain());
        assertEquals(5, s.device().run());
    }

    @Test
    void rxInterruptsAreSuppressedUntilReEnabledAndEnablingReportsWaitingFrames() throws Exception {
        Setup s = setup(MRG | EVENT_IDX, 8, 2048);
        s.driver().refillRx();
        s.driver().disableRxInterrupts();
        s.driver().transmit(VirtioNetHeader.NONE, frame(60));
        s.device().run();
        assertEquals(0, s.device().rx.interrupts());
        assertTrue(s.driver().enableRxInterrupts(), "a frame arrived meanwhile");
        assertTrue(s.driver().receive().isPresent());
        assertFalse(s.driver().enableRxInterrupts());
        s.driver().transmit(VirtioNetHeader.NONE, frame(60));
        s.device().run();
        assertEquals(1, s.device().rx.interrupts());
    }

    private int availIdx(int ringSize) {
        DriverMemory layout = DriverMemory.layout(0x1000, (4 << 20) - 0x1000, 1, ringSize, 2048);
        return Short.toUnsignedInt(memory.getShort(layout.queuePair(0).rx().availGpa() + VRING_AVAIL_IDX));
    }

    @Test
    void receivedBuffersAreRepostedOncePerHalfRingNotAfterEveryFrame() throws Exception {
        Setup s = setup(MRG | EVENT_IDX, 64, 2048);
        s.driver().refillRx();
        int publishes = 0;
        int avail = availIdx(64);
        try (EventFd rxCall = EventFd.create()) {
            for (int round = 0; round < 8; round++) {
                for (int i = 0; i < 16; i++) {
                    assertTrue(s.driver().transmit(VirtioNetHeader.NONE, frame(60)));
                }
                assertEquals(16, s.device().run());
                for (int i = 0; i < 16; i++) {
                    assertTrue(s.driver().receive(rxCall, 0).isPresent());
                    if (availIdx(64) != avail) {
                        publishes++;
                        avail = availIdx(64);
                    }
                }
            }
        }
        assertTrue(publishes <= 128 / 32, publishes + " RX index updates for 128 frames through a ring of 64");
        assertEquals(128, s.driver().counters().rxFrames());
    }

    @Test
    void aBatchIsReceivedInPlaceAndMergedFramesWholeWithoutAllocating() throws Exception {
        Setup s = setup(MRG | EVENT_IDX | INDIRECT | TSO4, 64, 2048);
        s.driver().refillRx();
        byte[] big = frame(5000);
        byte[] small = frame(64);
        byte[] got = new byte[BIG];
        int[] last = new int[1];
        VirtioNetDriver.RxHandler handler = (buffer, offset, length) -> {
            buffer.get(offset, got, 0, length);
            last[0] = length;
        };
        assertTrue(s.driver().transmit(VirtioNetHeader.NONE, big));
        s.device().run();
        assertEquals(1, s.driver().receive(8, handler));
        assertArrayEquals(big, java.util.Arrays.copyOf(got, last[0]), "a frame over three buffers, gathered");

        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long allocated = 0;
        int received = 0;
        for (int round = 0; round < 5000; round++) {
            for (int i = 0; i < 8; i++) {
                assertTrue(s.driver().transmit(VirtioNetHeader.NONE, small));
            }
            s.device().run();
            long before = threads.getCurrentThreadAllocatedBytes();
            int n = s.driver().receive(8, handler);
            if (round >= 3000) { // after the JIT has compiled the path
                allocated += threads.getCurrentThreadAllocatedBytes() - before;
                received += n;
            }
            assertEquals(8, n);
        }
        assertArrayEquals(small, java.util.Arrays.copyOf(got, last[0]));
        assertEquals(16_000, received);
        assertTrue(allocated < 1024, allocated + " bytes allocated receiving 16,000 frames");
    }

    @Test
    void aFrameWithABadUsedLengthIsDroppedAndCounted() throws Exception {
        Setup s = setup(MRG, 8, 2048);
        s.driver().refillRx();
        var chain = s.device().rx.pop();
        s.device().rx.pushUsed(chain.head(), 4096);
        assertTrue(s.driver().receive().isEmpty());
        assertEquals(1, s.driver().counters().rxErrors());
        assertEquals(1, s.driver().freeRxBuffers());
    }
}
