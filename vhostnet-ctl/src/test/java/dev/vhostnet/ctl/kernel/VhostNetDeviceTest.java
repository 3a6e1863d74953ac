package dev.vhostnet.ctl.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.ctl.vhost.VhostStepException;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Capabilities;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.Tun;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The bring-up order, teardown and failure cleanup of the device layer, against a recording fake of vhost-net. */
public class VhostNetDeviceTest {
    /** What the 6.1 kernel's vhost-net offered in the test VM. */
    public static final FeatureSet OFFER = FeatureSet.of(0x33d008000L);

    private static final int RING = 256;

    private MemoryTable memory;
    private final List<EventFd> eventFds = new ArrayList<>();
    private TapDevice tap;

    @BeforeEach
    void memory() throws Exception {
        memory = MemoryTable.builder().region(0, 1 << 20).build();
    }

    @AfterEach
    void close() {
        if (tap != null) {
            tap.close();
        }
        eventFds.forEach(EventFd::close);
        memory.close();
    }

    private TapDevice tap(int queues, boolean vnetHeader) throws Exception {
        assumeTrue(
                Tun.isAvailable() && Capabilities.has(Capabilities.CAP_NET_ADMIN),
                "needs /dev/net/tun and CAP_NET_ADMIN to create a tap: run the tests as root");
        TapConfig.Builder b = TapConfig.builder().name("vt%d").queues(queues);
        if (vnetHeader) {
            b.vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF);
        }
        tap = TapDevice.open(b.build());
        return tap;
    }

    private QueuePair pair(int index) throws Exception {
        long base = 0x10000 + 2L * index * VringLayout.contiguousBytes(RING);
        return new QueuePair(
                queue(VringLayout.contiguous(base, RING)),
                queue(VringLayout.contiguous(base + VringLayout.contiguousBytes(RING), RING)));
    }

    private Virtqueue queue(VringLayout layout) throws Exception {
        EventFd kick = EventFd.create();
        EventFd call = EventFd.create();
        eventFds.add(kick);
        eventFds.add(call);
        return new Virtqueue(layout, kick, call);
    }

    private NetDeviceConfig.Builder config(int pairs, RecordingVhostBackend.Opener opener) throws Exception {
        NetDeviceConfig.Builder b = NetDeviceConfig.builder()
                .memory(memory)
                .tap(tap(pairs, true))
                .opener(opener)
                .driverFeatures(FeatureSet.of(
                        VirtioFeature.VERSION_1,
                        VirtioFeature.MRG_RXBUF,
                        VirtioFeature.EVENT_IDX,
                        VirtioFeature.CSUM,
                        VirtioFeature.GUEST_CSUM));
        for (int p = 0; p < pairs; p++) {
            b.queuePair(pair(p));
        }
        return b;
    }

    private static List<String> vringSteps(int pair, int vring, int base) {
        String p = "pair " + pair + ": ";
        return List.of(
                p + "SET_VRING_NUM " + vring + " " + RING,
                p + "SET_VRING_BASE " + vring + " " + base,
                p + "SET_VRING_ADDR " + vring,
                p + "SET_VRING_KICK " + vring,
                p + "SET_VRING_CALL " + vring,
                p + "SET_VRING_ERR " + vring);
    }

    @Test
    void bringsUpEachQueuePairInQemusOrder() throws Exception {
        RecordingVhostBackend.Opener opener = new RecordingVhostBackend.Opener(OFFER.toLong(), null);
        try (VhostNetDevice device = VhostNetDevice.start(config(2, opener).build())) {
            List<String> expected =
                    new ArrayList<>(List.of("pair 0: SET_OWNER", "pair 1: SET_OWNER", "pair 0: GET_FEATURES"));
            String vhostFeatures =
                    "0x" + Long.toHexString(device.features().vhost().toLong());
            for (int p = 0; p < 2; p++) {
                expected.add("pair " + p + ": SET_FEATURES " + vhostFeatures);
                expected.add("pair " + p + ": SET_MEM_TABLE 1");
            }
            for (int p = 0; p < 2; p++) {
                expected.addAll(vringSteps(p, 0, 0));
                expected.addAll(vringSteps(p, 1, 0));
                expected.add("pair " + p + ": NET_SET_BACKEND 0 tap");
                expected.add("pair " + p + ": NET_SET_BACKEND 1 tap");
            }
            assertEquals(expected, opener.log);
            assertEquals(NetDevice.State.RUNNING, device.state());
            assertEquals(
                    FeatureSet.of(VirtioFeature.VERSION_1, VirtioFeature.MRG_RXBUF, VirtioFeature.EVENT_IDX),
                    device.features().vhost(),
                    "only vhost's bits go to SET_FEATURES");
            assertTrue(device.has(VirtioFeature.GUEST_CSUM), "the tap took TUN_F_CSUM");
            assertEquals(12, tap.getVnetHdrSz());
        }
    }

    @Test
    void stopSavesEachVringsBaseAndRestartResumesFromIt() throws Exception {
        RecordingVhostBackend.Opener opener = new RecordingVhostBackend.Opener(OFFER.toLong(), null);
        try (VhostNetDevice device = VhostNetDevice.start(config(1, opener).build(), VringBases.of(100, 200))) {
            opener.log.clear();
            VringBases bases = device.stop();
            assertEquals(VringBases.of(107, 207), bases, "the fake's GET_VRING_BASE returns base + 7");
            assertEquals(
                    List.of(
                            "pair 0: NET_SET_BACKEND 0 detach",
                            "pair 0: NET_SET_BACKEND 1 detach",
                            "pair 0: GET_VRING_BASE 0",
                            "pair 0: GET_VRING_BASE 1"),
                    opener.log);
            opener.log.clear();
            device.restart();
            List<String> expected = new ArrayList<>(vringSteps(0, 0, 107));
            expected.addAll(vringSteps(0, 1, 207));
            expected.add("pair 0: NET_SET_BACKEND 0 tap");
            expected.add("pair 0: NET_SET_BACKEND 1 tap");
            assertEquals(expected, opener.log);
            assertThrows(IllegalStateException.class, device::restart, "restart needs a stopped device");
        }
        assertTrue(opener.opened.get(0).closed);
    }

    @Test
    void aFailedStepNamesItAndTheQueueAndClosesEverythingItOpened() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        RecordingVhostBackend.Opener opener =
                new RecordingVhostBackend.Opener(OFFER.toLong(), "pair 1: SET_VRING_ADDR 1");
        NetDeviceConfig config = config(2, opener).build();
        Set<Integer> withTap = OpenFds.snapshot();
        VhostStepException e = assertThrows(VhostStepException.class, () -> VhostNetDevice.start(config));
        assertEquals("SET_VRING_ADDR", e.step());
        assertEquals("queue 3 (TX) of pair 1", e.queue());
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "SET_VRING_ADDR on queue 3 (TX) of pair 1: ioctl VHOST_SET_VRING_ADDR on fake: EINVAL"),
                e.getMessage());
        assertTrue(opener.opened.stream().allMatch(b -> b.closed), "every vhost fd opened is closed");
        assertEquals("", OpenFds.leakedSince(withTap), "the error eventfds are closed too");
        assertTrue(tap.queue(1).isOpen(), "the tap is the caller's: left open");
        tap.close();
        tap = null;
        eventFds.forEach(EventFd::close);
        eventFds.clear();
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void dirtyLoggingAddsLogAllTheLogBaseAndTheUsedRingsLogAddress() throws Exception {
        RecordingVhostBackend.Opener opener = new RecordingVhostBackend.Opener(OFFER.toLong(), null);
        NetDeviceConfig config = config(1, opener).dirtyLog(true).build();
        QueuePair pair = config.queuePairs().get(0);
        try (VhostNetDevice device = VhostNetDevice.start(config)) {
            assertTrue(device.features().vhost().has(VirtioFeature.LOG_ALL));
            assertTrue(opener.log.contains("pair 0: SET_LOG_BASE"));
            assertTrue(
                    opener.log.contains("pair 0: SET_VRING_ADDR 1 log 0x"
                            + Long.toHexString(pair.tx().layout().usedGpa())),
                    opener.log.toString());
            assertEquals(List.of(), device.dirtyLog().dirtyPages());
        }
    }

    @Test
    void rejectsBadConfigurationsBeforeOpeningVhostNet() throws Exception {
        RecordingVhostBackend.Opener opener = new RecordingVhostBackend.Opener(OFFER.toLong(), null);
        IllegalArgumentException queues = assertThrows(
                IllegalArgumentException.class,
                () -> NetDeviceConfig.builder()
                        .memory(memory)
                        .tap(tap(1, true))
                        .queuePair(pair(0))
                        .queuePair(pair(1))
                        .build());
        assertTrue(queues.getMessage().contains("2 queue pairs need a tap with 2 queues"), queues.getMessage());
        QueuePair outside = new QueuePair(queue(VringLayout.contiguous(0xff000, RING)), pair(0).tx());
        IllegalArgumentException ring = assertThrows(
                IllegalArgumentException.class,
                () -> NetDeviceConfig.builder()
                        .memory(memory)
                        .tap(tap)
                        .queuePair(outside)
                        .build());
        assertTrue(ring.getMessage().startsWith("available ring of queue 0 (RX) of pair 0"), ring.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> VhostNetDevice.start(
                        NetDeviceConfig.builder()
                                .memory(memory)
                                .tap(tap)
                                .opener(opener)
                                .queuePair(pair(0))
                                .build(),
                        VringBases.of(0, 65536)));
        assertEquals(List.of(), opener.log, "nothing was opened");
    }

    @Test
    void aTapWithoutVnetHeaderHasVhostAddTheHeaderAndNoOffloads() throws Exception {
        RecordingVhostBackend.Opener opener = new RecordingVhostBackend.Opener(OFFER.toLong(), null);
        NetDeviceConfig.Builder b = NetDeviceConfig.builder()
                .memory(memory)
                .tap(tap(1, false))
                .opener(opener)
                .queuePair(pair(0))
                .driverFeatures(FeatureSet.of(VirtioFeature.VERSION_1, VirtioFeature.CSUM));
        try (VhostNetDevice device = VhostNetDevice.start(b.build())) {
            assertTrue(device.features().vhostAddsHeader());
            assertTrue(!device.has(VirtioFeature.CSUM));
        }
        IllegalStateException required = assertThrows(
                IllegalStateException.class,
                () -> VhostNetDevice.start(b.requireAll(true).build()));
        assertTrue(
                required.getMessage().contains("has no vnet header, so no offloads: open it with vnetHeader(12)"),
                required.getMessage());
    }
}
