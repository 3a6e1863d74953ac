package dev.vhostnet.it;

import static dev.vhostnet.ctl.VirtioFeature.EVENT_IDX;
import static dev.vhostnet.ctl.VirtioFeature.MRG_RXBUF;
import static dev.vhostnet.ctl.VirtioFeature.VERSION_1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.kernel.VhostNetDevice;
import dev.vhostnet.driver.DriverMemory;
import dev.vhostnet.driver.VirtioNetDriver;
import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.testkit.EthernetFrames;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The README's kernel backend example, run as written (in the test VM where the host has no vhost-net). */
@Tag("vhost-net")
class ReadmeKernelExampleTest {
    @Test
    void bringsUpAKernelBackendSendsAFrameStopsAndRestarts() throws Exception {
        NetFixture.assumeVhostNet();
        byte[] frame = EthernetFrames.udp(
                MacAddress.parse("02:00:00:00:00:02"),
                MacAddress.parse("ff:ff:ff:ff:ff:ff"),
                new byte[] {10, 0, 0, 2},
                new byte[] {10, 0, 0, 1},
                1,
                2,
                new byte[100]);
        try (MemoryTable ram = MemoryTable.builder().region(0, 64 << 20).build();
                TapDevice tap = TapDevice.open(
                        TapConfig.builder().name("vn%d").vnetHeader(12).up(true).build());
                EventFd rxKick = EventFd.create();
                EventFd rxCall = EventFd.create();
                EventFd txKick = EventFd.create();
                EventFd txCall = EventFd.create()) {
            DriverMemory.QueuePair rings =
                    DriverMemory.layout(1 << 20, 63 << 20, 1, 256, 2048).queuePair(0);
            try (VhostNetDevice device = VhostNetDevice.start(NetDeviceConfig.builder()
                    .memory(ram)
                    .tap(tap)
                    .queuePair(new QueuePair(
                            new Virtqueue(rings.rx(), rxKick, rxCall), new Virtqueue(rings.tx(), txKick, txCall)))
                    .driverFeatures(FeatureSet.of(VERSION_1, MRG_RXBUF, EVENT_IDX))
                    .build())) {
                VirtioNetDriver driver =
                        new VirtioNetDriver(ram, rings, device.features().virtio(), rxKick, txKick);
                driver.refillRx();
                driver.transmit(VirtioNetHeader.NONE, frame);
                VringBases bases = device.stop();
                device.restart();

                assertEquals(12, driver.headerSize());
                assertEquals(1, driver.counters().txFrames());
                assertTrue(bases.get(0, QueuePair.TX) <= 1, "TX base " + bases);
                assertEquals(NetDevice.State.RUNNING, device.state());
            }
        }
    }
}
