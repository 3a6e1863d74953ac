package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.testkit.TestpmdProcess;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The testpmd that drives vhost-net as this project's driver does, and what it needs. */
class VirtioUserKernelTest {
    @Test
    void testpmdDrivesVhostNetThroughATapOfItsOwnOnOrdinaryPages() {
        List<List<String>> command = VirtioUserKernel.command("vtu0", 64, 0, 1);
        List<String> eal = command.get(0);
        assertEquals(List.of("--lcores", "0@0,1@1"), eal.subList(0, 2));
        assertTrue(eal.contains("--no-huge"), eal.toString());
        assertEquals(
                "net_virtio_user0,path=/dev/vhost-net,queues=1,queue_size=256,iface=vtu0", eal.get(eal.size() - 1));
        assertTrue(command.get(1).containsAll(List.of("--forward-mode=txonly", "--txpkts=64")), command.toString());
    }

    @Test
    void withoutVhostNetItSaysSoAndHowToGetIt() {
        assumeTrue(TestpmdProcess.unavailabilityCause() == null, "needs dpdk-testpmd to get past that check");
        assumeTrue(!Files.exists(VhostNet.DEVICE), "this host has /dev/vhost-net: VirtioUserPeerTest runs the peer");
        String why = VirtioUserKernel.unavailabilityCause();
        assertTrue(why.contains("/dev/vhost-net") && why.contains("modprobe vhost_net"), why);
    }
}
