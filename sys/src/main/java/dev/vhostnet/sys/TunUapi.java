package dev.vhostnet.sys;

import com.google.common.base.Preconditions;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * {@code <linux/if_tun.h>}, with the parts of {@code <linux/if.h>}, {@code <linux/sockios.h>} and
 * {@code <linux/if_arp.h>} that configure an interface.
 */
public final class TunUapi {
    private TunUapi() {}

    private static final int T = 'T';

    public static final Ioctl TUNSETIFF = Ioctl.iow("TUNSETIFF", T, 202, 4);
    public static final Ioctl TUNSETPERSIST = Ioctl.iow("TUNSETPERSIST", T, 203, 4);
    public static final Ioctl TUNSETOWNER = Ioctl.iow("TUNSETOWNER", T, 204, 4);
    public static final Ioctl TUNSETGROUP = Ioctl.iow("TUNSETGROUP", T, 206, 4);
    public static final Ioctl TUNGETFEATURES = Ioctl.ior("TUNGETFEATURES", T, 207, 4);
    public static final Ioctl TUNSETOFFLOAD = Ioctl.iow("TUNSETOFFLOAD", T, 208, 4);
    public static final Ioctl TUNGETIFF = Ioctl.ior("TUNGETIFF", T, 210, 4);
    public static final Ioctl TUNGETVNETHDRSZ = Ioctl.ior("TUNGETVNETHDRSZ", T, 215, 4);
    public static final Ioctl TUNSETVNETHDRSZ = Ioctl.iow("TUNSETVNETHDRSZ", T, 216, 4);
    public static final Ioctl TUNSETQUEUE = Ioctl.iow("TUNSETQUEUE", T, 217, 4);

    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_MULTI_QUEUE = 0x0100;
    public static final int IFF_ATTACH_QUEUE = 0x0200;
    public static final int IFF_DETACH_QUEUE = 0x0400;
    public static final int IFF_PERSIST = 0x0800;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_ONE_QUEUE = 0x2000;
    public static final int IFF_VNET_HDR = 0x4000;
    public static final int IFF_TUN_EXCL = 0x8000;

    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    public static final int TUN_F_UFO = 0x10;

    public static final int IFNAMSIZ = 16;
    public static final int IFF_UP = 0x1;

    public static final Ioctl SIOCGIFFLAGS = new Ioctl("SIOCGIFFLAGS", 0x8913);
    public static final Ioctl SIOCSIFFLAGS = new Ioctl("SIOCSIFFLAGS", 0x8914);
    public static final Ioctl SIOCGIFMTU = new Ioctl("SIOCGIFMTU", 0x8921);
    public static final Ioctl SIOCSIFMTU = new Ioctl("SIOCSIFMTU", 0x8922);
    public static final Ioctl SIOCSIFHWADDR = new Ioctl("SIOCSIFHWADDR", 0x8924);
    public static final Ioctl SIOCGIFHWADDR = new Ioctl("SIOCGIFHWADDR", 0x8927);
    public static final Ioctl SIOCGIFINDEX = new Ioctl("SIOCGIFINDEX", 0x8933);

    public static final int ARPHRD_ETHER = 1;

    @CExpr("offsetof(struct ifreq, ifr_flags)")
    public static final int IFR_FLAGS = 16;

    @CExpr("offsetof(struct ifreq, ifr_mtu)")
    public static final int IFR_MTU = 16;

    @CExpr("offsetof(struct ifreq, ifr_ifindex)")
    public static final int IFR_IFINDEX = 16;

    @CExpr("offsetof(struct ifreq, ifr_hwaddr.sa_family)")
    public static final int IFR_HWADDR_FAMILY = 16;

    @CExpr("offsetof(struct ifreq, ifr_hwaddr.sa_data)")
    public static final int IFR_HWADDR_DATA = 18;

    /**
     * {@code struct ifreq}: an interface name and a union read and written through the
     * {@code IFR_*} offsets above (flags, MTU, index, hardware address).
     */
    @CExpr("struct ifreq")
    @FieldOrder({"ifr_name", "ifr_ifru"})
    public static final class Ifreq extends Structure {
        public static final int SIZE = 40;
        public byte[] ifr_name = new byte[IFNAMSIZ];
        public byte[] ifr_ifru = new byte[24];

        public Ifreq() {}

        /** An ifreq naming {@code name} (at most {@code IFNAMSIZ - 1} bytes), the union zeroed. */
        public Ifreq(String name) {
            byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
            Preconditions.checkArgument(
                    bytes.length < IFNAMSIZ, "interface name longer than %s bytes: %s", IFNAMSIZ - 1, name);
            System.arraycopy(bytes, 0, ifr_name, 0, bytes.length);
        }

        /** The name the kernel wrote back (e.g. after {@code TUNSETIFF} expanded {@code tap%d}). */
        public String name() {
            int n = 0;
            while (n < ifr_name.length && ifr_name[n] != 0) {
                n++;
            }
            return new String(ifr_name, 0, n, StandardCharsets.US_ASCII);
        }

        /** The union, little-endian, positioned at its start ({@code offset - 16} = union offset). */
        public ByteBuffer union() {
            return ByteBuffer.wrap(ifr_ifru).order(ByteOrder.LITTLE_ENDIAN);
        }

        public short flags() {
            return union().getShort(IFR_FLAGS - IFNAMSIZ);
        }

        public Ifreq flags(int flags) {
            union().putShort(IFR_FLAGS - IFNAMSIZ, (short) flags);
            return this;
        }

        public int intValue() {
            return union().getInt(IFR_MTU - IFNAMSIZ);
        }

        public Ifreq intValue(int value) {
            union().putInt(IFR_MTU - IFNAMSIZ, value);
            return this;
        }

        /** The 6-byte Ethernet hardware address of {@code ifr_hwaddr}. */
        public byte[] hwaddr() {
            byte[] mac = new byte[6];
            System.arraycopy(ifr_ifru, IFR_HWADDR_DATA - IFNAMSIZ, mac, 0, 6);
            return mac;
        }

        public Ifreq hwaddr(byte[] mac) {
            Preconditions.checkArgument(mac.length == 6, "an Ethernet address has 6 bytes, not %s", mac.length);
            union().putShort(IFR_HWADDR_FAMILY - IFNAMSIZ, (short) ARPHRD_ETHER);
            System.arraycopy(mac, 0, ifr_ifru, IFR_HWADDR_DATA - IFNAMSIZ, 6);
            return this;
        }
    }
}
