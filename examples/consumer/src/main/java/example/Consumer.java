package example;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.NetDevice;
import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.NetDevices;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.Virtqueue;
import dev.vhostnet.ctl.VringBases;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;

/**
 * What a VMM does to give a guest a virtio-net device, through vhostnet's public API only: guest
 * memory, a tap, two rings with their kick and call eventfds, and an emulated device started on
 * them through {@link NetDevices}. Needs root (or CAP_NET_ADMIN) for the tap.
 */
public final class Consumer {
    public static void main(String[] args) throws Exception {
        try (MemoryTable ram = MemoryTable.builder().region(0, 16 << 20).build();   // memfd, MAP_SHARED
             EventFd rxKick = EventFd.create();
             EventFd rxCall = EventFd.create();
             EventFd txKick = EventFd.create();
             EventFd txCall = EventFd.create();
             TapDevice tap = TapDevice.open(TapConfig.builder()
                     .name("vnconsumer%d").vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF).up(true).build())) {
            // The guest driver would put its rings here; this example only starts the device on them.
            QueuePair pair = new QueuePair(
                    new Virtqueue(VringLayout.contiguous(0x10_0000, 256), rxKick, rxCall),
                    new Virtqueue(VringLayout.contiguous(0x20_0000, 256), txKick, txCall));
            NetDeviceConfig config = NetDeviceConfig.builder()
                    .memory(ram).tap(tap).queuePair(pair)
                    .driverFeatures(FeatureSet.of(VirtioFeature.VERSION_1, VirtioFeature.MRG_RXBUF))
                    .build();
            try (NetDevice device = NetDevices.start(config, BackendChoice.Kind.EMULATED, VringBases.zero(1))) {
                System.out.println("tap      " + tap.name());
                System.out.println("backend  " + device.kind());
                System.out.println("features " + device.features().virtio());
                System.out.println("state    " + device.state());
                VringBases bases = device.stop();
                System.out.println("stopped  " + device.state() + " at " + bases);
            }
        }
        System.out.println("closed");
    }
}
