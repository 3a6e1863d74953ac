package dev.vhostnet.virtionet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.testkit.TapInNamespace;
import dev.vhostnet.virtio.KvmWiring;
import dev.vhostnet.virtio.VirtioPciTransport;
import java.net.DatagramSocket;
import org.junit.jupiter.api.Test;

/** The README's "Attach a guest NIC": the code a VMM writes, then a guest driver (registers only) using it. */
class ReadmeGuestNicTest {
    @Test
    void attachAGuestNic() throws Exception {
        assumeTrue(Kvm.unavailabilityCause() == null, () -> "needs /dev/kvm: " + Kvm.unavailabilityCause());
        try (MemoryTable ram = MemoryTable.builder().region(0, NetGuest.RAM).build();
                TapInNamespace net = TapInNamespace.open(
                        TapConfig.builder().queues(4).vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vr");
                Kvm kvm = Kvm.open();
                KvmVm vm = kvm.createVm();
                DatagramSocket socket = net.socket()) {
            vm.createIrqchip();
            vm.setMemoryTable(ram);
            TapDevice tap = net.tap;
            // README: begin
            try (VirtioNetDevice nic = VirtioNetDevice.builder()
                            .memory(ram)
                            .tap(tap) // tap: queues(4), vnetHeader(12)
                            .mac(MacAddress.parse("02:00:00:77:00:02"))
                            .mtu(1500)
                            .maxQueuePairs(4)
                            .backend(BackendChoice.Policy.PREFER_KERNEL) // vhost-net, else emulated (logged why)
                            .build();
                    VirtioPciTransport pci =
                            new VirtioPciTransport(nic, 40, new KvmWiring(vm, KvmWiring.irqchipDefaults()), ram)) {
                // The exit loop: config cycles go to pci.readConfig/writeConfig, BAR0 accesses to pci.readBar/writeBar.
                // Doorbells are ioeventfds and interrupts irqfds: the data path never exits to this process.
                // The guest's DRIVER_OK starts the backend; its control queue is served here; its reset stops it all.
                // README: end
                NetGuest guest = NetGuest.probe(new Registers.Pci(pci), ram, -1L, NetGuest.DRIVER_BASE);
                assertEquals(0, guest.setQueuePairs(4));
                assertEquals(4, nic.backend().orElseThrow().enabledPairs());
                for (int p = 0; p < 4; p++) {
                    byte[] payload = Rig.payload(p, 100);
                    Rig.transmit(
                            guest.driver(p),
                            dev.vhostnet.testkit.EthernetFrames.udp(
                                    TapInNamespace.GUEST_MAC,
                                    net.tapMac,
                                    TapInNamespace.GUEST_IP_BYTES,
                                    TapInNamespace.HOST_IP_BYTES,
                                    40000,
                                    socket.getLocalPort(),
                                    payload));
                    assertArrayEquals(payload, TapInNamespace.receive(socket), "pair " + p);
                }
            }
        }
    }
}
