package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Memory;
import dev.vhostnet.ctl.emulated.EmulatedLoops;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.GsiRoute;
import dev.vhostnet.eventfd.IoAddress;
import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Capabilities;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.Tun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The README's library example, run as written, with what a reader would check of it. */
class ReadmeExampleTest {
    @Test
    void wiresGuestMemoryKvmAndATapAsTheReadmeShows() throws Exception {
        assumeTrue(Kvm.isAvailable(), () -> "needs /dev/kvm: " + Kvm.unavailabilityCause());
        assumeTrue(
                Tun.isAvailable() && Capabilities.has(Capabilities.CAP_NET_ADMIN),
                "needs /dev/net/tun and root (CAP_NET_ADMIN) to create a tap: run the tests as root");
        EmulatedLoops.shared(); // the shared event loops keep their fds for the life of the process: made first
        Set<Integer> before = OpenFds.snapshot();
        String tapName;
        try (MemoryTable ram = MemoryTable.builder().region(0, 64 << 20).build();
                Kvm kvm = Kvm.open();
                KvmVm vm = kvm.createVm();
                EventFd kick = EventFd.create();
                EventFd call = EventFd.create();
                TapDevice tap = TapDevice.open(TapConfig.builder()
                        .name("vn%d")
                        .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                        .offloads(Offload.CSUM)
                        .up(true)
                        .build())) {
            vm.createIrqchip();
            vm.setMemoryTable(ram);
            vm.ioeventfd(kick, IoAddress.mmio(0xd000_0000L, 2), OptionalLong.empty());
            vm.irqfd(call, 24);
            vm.setGsiRouting(List.of(GsiRoute.Msi.toApic(24, 0, 0x40)));
            long hva = ram.translate(0x10_0000, 4096);
            Memory table = ram.toVhostMemory();
            int backend = tap.queue(0).rawFd();

            tapName = tap.name();
            assertTrue(tapName.startsWith("vn"), tapName);
            assertTrue(Files.exists(Path.of("/sys/class/net", tapName)), "the tap exists");
            assertTrue((tap.getIff() & TunUapi.IFF_VNET_HDR) != 0, "the tap has a vnet header");
            assertEquals(12, tap.getVnetHdrSz());
            assertEquals(ram.regions().get(0).hva() + 0x10_0000, hva);
            assertEquals(1, table.getInt(0), "one region in the vhost memory table");
            assertTrue(Files.exists(Path.of("/proc/self/fd/" + backend)));
        }
        assertTrue(Files.notExists(Path.of("/sys/class/net", tapName)), "a non-persistent tap goes away on close");
        assertEquals("", OpenFds.leakedSince(before));
    }
}
