package dev.vhostnet.it;

import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.ctl.kernel.VhostNetDevice;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.ctl.vhost.VringAddress;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.memtable.VhostLimits;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Bad configurations and a misbehaving guest, against the kernel's own vhost-net. */
@Tag("vhost-net")
class VhostNetErrorsTest {
    private static final long MIB = 1 << 20;

    @BeforeEach
    void needsVhostNet() {
        assumeTrue(
                Files.exists(VhostNet.DEVICE),
                "no /dev/vhost-net on this host (kernel without CONFIG_VHOST_NET, or module not loaded: "
                        + "modprobe vhost_net); these tests run in the test VM: KernelTestsInVmTest");
    }

    private static Virtqueue queue(VringLayout layout, List<EventFd> fds) throws SysException {
        EventFd kick = EventFd.create();
        EventFd call = EventFd.create();
        fds.add(kick);
        fds.add(call);
        return new Virtqueue(layout, kick, call);
    }

    @Test
    void badConfigurationsAreRejectedWithClearErrorsAndLeakNothing() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        List<EventFd> fds = new ArrayList<>();
        try (MemoryTable memory = MemoryTable.builder().region(0, MIB).build();
                TapDevice tap = TapDevice.open(TapConfig.builder().name("vt%d").build())) {
            assertThrows(IllegalArgumentException.class, () -> VringLayout.contiguous(0x10000, 0));
            assertThrows(IllegalArgumentException.class, () -> VringLayout.contiguous(0x10000, 384));
            assertThrows(IllegalArgumentException.class, () -> VringLayout.contiguous(0x10000, 65536));
            assertThrows(IllegalArgumentException.class, () -> new VringLayout(256, 0x10008, 0x11000, 0x12000));

            QueuePair outside = new QueuePair(
                    queue(VringLayout.contiguous(0xfe000, 256), fds), queue(VringLayout.contiguous(0x20000, 256), fds));
            IllegalArgumentException ring = assertThrows(
                    IllegalArgumentException.class,
                    () -> NetDeviceConfig.builder()
                            .memory(memory)
                            .tap(tap)
                            .queuePair(outside)
                            .build());
            assertTrue(
                    ring.getMessage().contains("of queue 0 (RX) of pair 0")
                            && ring.getMessage().contains("not inside guest memory"),
                    ring.getMessage());

            MemoryTable.Builder tooMany = MemoryTable.builder();
            for (int i = 0; i <= VhostLimits.maxMemRegions(); i++) {
                tooMany.region(i * 2 * 4096L, 4096);
            }
            IllegalArgumentException regions = assertThrows(IllegalArgumentException.class, tooMany::build);
            assertTrue(regions.getMessage().contains("(max_mem_regions)"), regions.getMessage());

            QueuePair good = new QueuePair(
                    queue(VringLayout.contiguous(0x10000, 256), fds), queue(VringLayout.contiguous(0x20000, 256), fds));
            IllegalStateException noHeader = assertThrows(
                    IllegalStateException.class,
                    () -> VhostNetDevice.start(NetDeviceConfig.builder()
                            .memory(memory)
                            .tap(tap)
                            .queuePair(good)
                            .requireAll(true)
                            .driverFeatures(FeatureSet.of(VirtioFeature.VERSION_1, VirtioFeature.CSUM))
                            .build()));
            assertTrue(noHeader.getMessage().contains("has no vnet header"), noHeader.getMessage());
        } finally {
            fds.forEach(EventFd::close);
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void theKernelRefusesAMisalignedUsedRingAndTheErrorNamesTheCall() throws Exception {
        try (MemoryTable memory = MemoryTable.builder().region(0, MIB).build();
                VhostNet vhost = VhostNet.open()) {
            vhost.setOwner();
            vhost.setFeatures(bit(VirtioUapi.VIRTIO_F_VERSION_1));
            vhost.setMemTable(memory);
            vhost.setVringNum(0, 256);
            long hva = memory.regions().get(0).hva();
            SysException e = assertThrows(
                    SysException.class,
                    () -> vhost.setVringAddr(
                            0, new VringAddress(hva, hva + 0x2002, hva + 0x1000, OptionalLong.empty())));
            assertTrue(e.is(Errno.EINVAL), e.getMessage());
            assertTrue(
                    e.getMessage().startsWith("ioctl VHOST_SET_VRING_ADDR on /dev/vhost-net: EINVAL"), e.getMessage());
        }
    }

    @Test
    void aDescriptorOutsideGuestMemoryIsReportedOnTheVringErrorEventfd() throws Exception {
        List<EventFd> fds = new ArrayList<>();
        CompletableFuture<String> reported = new CompletableFuture<>();
        try (MemoryTable memory = MemoryTable.builder().region(0, MIB).build();
                TapDevice tap = TapDevice.open(
                        TapConfig.builder().name("vt%d").vnetHeader(12).build())) {
            QueuePair pair = new QueuePair(
                    queue(VringLayout.contiguous(0x10000, 256), fds), queue(VringLayout.contiguous(0x20000, 256), fds));
            NetDeviceConfig config = NetDeviceConfig.builder()
                    .memory(memory)
                    .tap(tap)
                    .queuePair(pair)
                    .driverFeatures(FeatureSet.of(VirtioFeature.VERSION_1))
                    .onVringError((p, vring, count) -> reported.complete("pair " + p + " vring " + vring))
                    .build();
            try (VhostNetDevice device = VhostNetDevice.start(config)) {
                VringLayout tx = pair.tx().layout();
                memory.putLong(tx.descGpa() + VirtioUapi.VRING_DESC_ADDR, 0x4000_0000L);
                memory.putInt(tx.descGpa() + VirtioUapi.VRING_DESC_LEN, 64);
                memory.putShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_RING, (short) 0);
                memory.putShort(tx.availGpa() + VirtioUapi.VRING_AVAIL_IDX, (short) 1);
                pair.tx().kick().signal();
                assertEquals("pair 0 vring 1", reported.get(10, TimeUnit.SECONDS));
                NetDeviceCounters counters = device.counters();
                assertTrue(counters.pairs().get(0).vringErrors() >= 1, "the error is counted: " + counters);
                assertTrue(counters.tap().isPresent(), "the tap is in this namespace: its statistics are read");
                assertTrue(counters.pairs().get(0).tx().isEmpty(), "vhost-net shows no traffic counters");
            }
        } finally {
            fds.forEach(EventFd::close);
        }
    }
}
