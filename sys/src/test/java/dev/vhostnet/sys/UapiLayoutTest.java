package dev.vhostnet.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class UapiLayoutTest {
    @Test
    void everyNumberTheNativeLayerUsesMatchesTheKernelHeaders() throws Exception {
        HeaderCheck check = new HeaderCheck(List.of(
                        "errno.h",
                        "fcntl.h",
                        "sched.h",
                        "sys/mman.h",
                        "sys/eventfd.h",
                        "sys/socket.h",
                        "sys/resource.h",
                        "poll.h",
                        "linux/vhost.h",
                        "linux/kvm.h",
                        "linux/if.h",
                        "linux/if_tun.h",
                        "linux/if_arp.h",
                        "linux/sockios.h",
                        "linux/netlink.h",
                        "linux/rtnetlink.h",
                        "linux/virtio_config.h",
                        "linux/virtio_net.h",
                        "linux/virtio_mmio.h",
                        "linux/virtio_pci.h",
                        "linux/pci_regs.h"))
                .add(Errno.class)
                .add(Fcntl.class)
                .add(Mman.class)
                .add(EventfdUapi.class)
                .add(SocketUapi.class)
                .add(PollUapi.class)
                .add(VhostUapi.class)
                .add(KvmUapi.class)
                .add(TunUapi.class)
                .add(NetlinkUapi.class)
                .add(VirtioConfigUapi.class)
                .add(VirtioNetUapi.class)
                .add(VirtioMmioUapi.class)
                .add(VirtioPciUapi.class)
                .add(PciUapi.class)
                .add(FileLimit.class);
        assertTrue(check.size() > 150, "checked only " + check.size() + " numbers");
        assertEquals(List.of(), check.mismatches());
    }

    /** A mirror with one wrong constant and one wrong struct, to show the check catches both. */
    static final class WrongMirror {
        public static final int IFF_TAP = 3;
        public static final Ioctl TUNSETIFF = Ioctl.iow("TUNSETIFF", 'T', 202, 8);

        @CExpr("struct vhost_vring_file")
        @com.sun.jna.Structure.FieldOrder({"fd", "index"})
        public static final class SwappedFile extends com.sun.jna.Structure {
            public int fd;
            public int index;
        }
    }

    @Test
    void reportsEachNumberThatDiffersFromTheHeader() throws Exception {
        List<String> mismatches = new HeaderCheck(List.of("linux/vhost.h", "linux/if_tun.h"))
                .add(WrongMirror.class)
                .mismatches();
        assertEquals(4, mismatches.size(), mismatches.toString());
        assertTrue(mismatches.get(0).startsWith("IFF_TAP: Java has 0x3, the header says 0x2"), mismatches.get(0));
    }

    @Test
    void getVringBaseIsReadWrite() {
        assertEquals(0xc008af12L, VhostUapi.VHOST_GET_VRING_BASE.number());
    }
}
