package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.sys.VirtioUapi;
import java.nio.file.Files;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Smoke test of a real vhost-net: the device, its owner, its feature offer; and KVM beside it. */
@Tag("vhost-net")
class VhostNetDeviceTest {
    @BeforeEach
    void needsVhostNet() {
        assumeTrue(
                Files.exists(VhostNet.DEVICE),
                "no /dev/vhost-net on this host (kernel without CONFIG_VHOST_NET, or module not loaded: "
                        + "modprobe vhost_net); these tests run in the test VM: KernelTestsInVmTest");
    }

    @Test
    void vhostNetIsTheMiscCharDevice10_238() throws Exception {
        long rdev = ((Number) Files.getAttribute(VhostNet.DEVICE, "unix:rdev")).longValue();
        assertEquals(10, (rdev >> 8) & 0xfff, "major");
        assertEquals(238, (rdev & 0xff) | ((rdev >> 12) & 0xfff00), "minor");
    }

    @Test
    void ownedVhostNetOffersTheFeaturesItAlwaysHas() throws Exception {
        Set<Integer> before = OpenFds.snapshot();
        try (VhostNet vhost = VhostNet.open()) {
            vhost.setOwner();
            long features = vhost.getFeatures();
            assertTrue((features & VirtioUapi.bit(VirtioUapi.VIRTIO_F_VERSION_1)) != 0, "VIRTIO_F_VERSION_1");
            assertTrue((features & VirtioUapi.bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF)) != 0, "VIRTIO_NET_F_MRG_RXBUF");
            assertTrue(
                    (features & VirtioUapi.bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR)) != 0,
                    "VHOST_NET_F_VIRTIO_NET_HDR");
            assertTrue((features & VirtioUapi.bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX)) != 0, "VIRTIO_RING_F_EVENT_IDX");
            SysException twice = assertThrows(SysException.class, vhost::setOwner);
            assertTrue(twice.is(Errno.EBUSY), twice.getMessage());
            assertEquals("ioctl VHOST_SET_OWNER on /dev/vhost-net", twice.call());
        }
        assertEquals("", OpenFds.leakedSince(before));
    }

    @Test
    void theRequestsNoDataPathTestUsesWorkThroughTheirTypedMethods() throws Exception {
        try (VhostNet vhost = VhostNet.open();
                EventFd logFd = EventFd.create()) {
            vhost.setOwner();
            vhost.resetOwner();
            vhost.setOwner();
            long backendFeatures = vhost.getBackendFeatures();
            vhost.setBackendFeatures(backendFeatures);
            vhost.setLogFd(logFd);
            vhost.setLogFd(null);
            vhost.setVringBusyloopTimeout(1, 50);
            assertEquals(50, vhost.getVringBusyloopTimeout(1));
            vhost.setVringBusyloopTimeout(1, 0);
            assertEquals(0, vhost.getVringBusyloopTimeout(1));
        }
    }

    @Test
    void kvmCreatesAVmBesideIt() throws Exception {
        try (Kvm kvm = Kvm.open();
                KvmVm vm = kvm.createVm()) {
            vm.createIrqchip();
            assertTrue(vm.fd().isOpen());
        }
    }
}
