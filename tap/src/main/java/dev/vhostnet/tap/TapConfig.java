package dev.vhostnet.tap;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.sys.TunUapi;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * What a {@link TapDevice} is to be: name, queues, vnet header, offloads, persistence and link
 * settings. Immutable; every value is checked by {@link Builder#build()} before any call reaches
 * the kernel.
 */
public final class TapConfig {
    /** Queues per tap the kernel allows ({@code MAX_TAP_QUEUES} in {@code drivers/net/tun.c}). */
    public static final int MAX_QUEUES = 256;
    /** {@code sizeof(struct virtio_net_hdr)}: the legacy header without {@code num_buffers}. */
    public static final int VNET_HDR_LEGACY = 10;
    /** {@code sizeof(struct virtio_net_hdr_mrg_rxbuf)}: with {@code MRG_RXBUF} or {@code VERSION_1}. */
    public static final int VNET_HDR_MRG_RXBUF = 12;
    /** Smallest MTU the tun driver takes ({@code MIN_MTU} in {@code drivers/net/tun.c}). */
    public static final int MIN_MTU = 68;
    /**
     * Largest MTU the tun driver knows ({@code MAX_MTU}); the device's own maximum can be lower (a
     * tap's is {@code MAX_MTU} less the Ethernet header, shown as {@code maxmtu} by
     * {@code ip -d link}), and the kernel refuses more at the MTU step.
     */
    public static final int MAX_MTU = 65535;

    private final String name;
    private final int queues;
    private final int vnetHeaderSize;
    private final ImmutableSet<Offload> offloads;
    private final boolean persistent;
    private final OptionalInt owner;
    private final OptionalInt group;
    private final OptionalInt mtu;
    private final Optional<MacAddress> mac;
    private final boolean up;

    private TapConfig(Builder b) {
        this.name = b.name;
        this.queues = b.queues;
        this.vnetHeaderSize = b.vnetHeaderSize;
        this.offloads = ImmutableSet.copyOf(b.offloads);
        this.persistent = b.persistent;
        this.owner = b.owner;
        this.group = b.group;
        this.mtu = b.mtu;
        this.mac = b.mac;
        this.up = b.up;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The interface name, or a pattern with one {@code %d} the kernel fills in ({@code tap%d}). */
    public String name() {
        return name;
    }

    /** How many queue fds to open; more than one means {@code IFF_MULTI_QUEUE}. */
    public int queues() {
        return queues;
    }

    public boolean multiQueue() {
        return queues > 1;
    }

    /** Whether frames carry a {@code virtio_net_hdr} ({@code IFF_VNET_HDR}). */
    public boolean vnetHeader() {
        return vnetHeaderSize != 0;
    }

    /** The vnet header size (10 or 12), 0 without a vnet header. */
    public int vnetHeaderSize() {
        return vnetHeaderSize;
    }

    /** The offloads asked for; the kernel may take fewer (see {@link TapDevice#offloads()}). */
    public ImmutableSet<Offload> offloads() {
        return offloads;
    }

    /** Whether the tap outlives its fds ({@code TUNSETPERSIST}). */
    public boolean persistent() {
        return persistent;
    }

    /** The uid allowed to attach without {@code CAP_NET_ADMIN} ({@code TUNSETOWNER}). */
    public OptionalInt owner() {
        return owner;
    }

    /** The gid allowed to attach without {@code CAP_NET_ADMIN} ({@code TUNSETGROUP}). */
    public OptionalInt group() {
        return group;
    }

    public OptionalInt mtu() {
        return mtu;
    }

    public Optional<MacAddress> mac() {
        return mac;
    }

    /** Whether to bring the link up ({@code IFF_UP}) once configured. */
    public boolean up() {
        return up;
    }

    /** The {@code ifr_flags} for {@code TUNSETIFF}. */
    int iffFlags() {
        return TunUapi.IFF_TAP
                | TunUapi.IFF_NO_PI
                | (vnetHeader() ? TunUapi.IFF_VNET_HDR : 0)
                | (multiQueue() ? TunUapi.IFF_MULTI_QUEUE : 0);
    }

    @Override
    public String toString() {
        return "TapConfig[" + name + ", queues=" + queues + ", vnetHeaderSize=" + vnetHeaderSize
                + ", offloads=" + offloads + ", persistent=" + persistent + ", owner=" + owner
                + ", group=" + group + ", mtu=" + mtu + ", mac=" + mac + ", up=" + up + "]";
    }

    /** Collects the settings; {@link #build()} validates them together. */
    public static final class Builder {
        private String name = "tap%d";
        private int queues = 1;
        private int vnetHeaderSize;
        private final Set<Offload> offloads = EnumSet.noneOf(Offload.class);
        private boolean persistent;
        private OptionalInt owner = OptionalInt.empty();
        private OptionalInt group = OptionalInt.empty();
        private OptionalInt mtu = OptionalInt.empty();
        private Optional<MacAddress> mac = Optional.empty();
        private boolean up;

        private Builder() {}

        /** An interface name or a pattern with one {@code %d}; {@code tap%d} by default. */
        public Builder name(String name) {
            this.name = Preconditions.checkNotNull(name, "name");
            return this;
        }

        /** Number of queue fds, 1 to {@value TapConfig#MAX_QUEUES}; 1 by default. */
        public Builder queues(int queues) {
            this.queues = queues;
            return this;
        }

        /** Frames carry a vnet header of this size: 10 (legacy) or 12 ({@code MRG_RXBUF}, virtio 1.0). */
        public Builder vnetHeader(int size) {
            this.vnetHeaderSize = size;
            return this;
        }

        /** Offloads to ask the kernel for; those it refuses are dropped, newest first. */
        public Builder offloads(Offload... wanted) {
            this.offloads.addAll(Arrays.asList(wanted));
            return this;
        }

        public Builder persistent(boolean persistent) {
            this.persistent = persistent;
            return this;
        }

        public Builder owner(int uid) {
            this.owner = OptionalInt.of(uid);
            return this;
        }

        public Builder group(int gid) {
            this.group = OptionalInt.of(gid);
            return this;
        }

        public Builder mtu(int mtu) {
            this.mtu = OptionalInt.of(mtu);
            return this;
        }

        public Builder mac(MacAddress mac) {
            this.mac = Optional.of(Preconditions.checkNotNull(mac, "mac"));
            return this;
        }

        public Builder up(boolean up) {
            this.up = up;
            return this;
        }

        /** Validates every setting; throws {@link IllegalArgumentException} naming the wrong one and the fix. */
        public TapConfig build() {
            checkName(name);
            Preconditions.checkArgument(
                    queues >= 1 && queues <= MAX_QUEUES,
                    "queues must be 1 to %s (the kernel's MAX_TAP_QUEUES), not %s",
                    MAX_QUEUES,
                    queues);
            Preconditions.checkArgument(
                    vnetHeaderSize == 0 || vnetHeaderSize == VNET_HDR_LEGACY || vnetHeaderSize == VNET_HDR_MRG_RXBUF,
                    "vnet header size must be 10 (legacy) or 12 (MRG_RXBUF or VERSION_1), not %s",
                    vnetHeaderSize);
            checkOffloads();
            owner.ifPresent(uid -> Preconditions.checkArgument(uid >= 0, "owner uid must be 0 or more, not %s", uid));
            group.ifPresent(gid -> Preconditions.checkArgument(gid >= 0, "group gid must be 0 or more, not %s", gid));
            mtu.ifPresent(m -> Preconditions.checkArgument(
                    m >= MIN_MTU && m <= MAX_MTU,
                    "MTU must be %s to %s (the tun driver's MIN_MTU..MAX_MTU), not %s",
                    MIN_MTU,
                    MAX_MTU,
                    m));
            mac.ifPresent(m -> Preconditions.checkArgument(
                    m.isUnicast() && !m.isZero(),
                    "MAC %s is not a unicast address: the first octet must be even and the address non-zero"
                            + " (locally administered: 02:xx:xx:xx:xx:xx)",
                    m));
            return new TapConfig(this);
        }

        private void checkOffloads() {
            if (offloads.isEmpty()) {
                return;
            }
            Preconditions.checkArgument(
                    vnetHeaderSize != 0,
                    "offloads %s need a vnet header to carry checksum and segmentation data: add vnetHeader(12)",
                    offloads);
            Preconditions.checkArgument(
                    offloads.contains(Offload.CSUM),
                    "offloads %s need CSUM as well: the kernel refuses segmentation without checksum offload",
                    offloads);
            Preconditions.checkArgument(
                    !offloads.contains(Offload.TSO_ECN)
                            || offloads.contains(Offload.TSO4)
                            || offloads.contains(Offload.TSO6),
                    "TSO_ECN needs TSO4 or TSO6 as well");
            Preconditions.checkArgument(
                    offloads.contains(Offload.USO4) == offloads.contains(Offload.USO6),
                    "the kernel takes USO4 and USO6 only together: ask for both or neither");
        }

        /** The rules of the kernel's {@code dev_valid_name} and {@code dev_alloc_name}. */
        private static void checkName(String name) {
            Preconditions.checkArgument(
                    !name.isEmpty(), "tap name is empty: give a name such as vm0-tap or a pattern such as tap%d");
            byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            Preconditions.checkArgument(
                    bytes.length < TunUapi.IFNAMSIZ,
                    "tap name '%s' is %s bytes; interface names have at most %s (IFNAMSIZ - 1): shorten it",
                    name,
                    bytes.length,
                    TunUapi.IFNAMSIZ - 1);
            Preconditions.checkArgument(
                    !name.equals(".") && !name.equals(".."), "tap name '%s' is not allowed: choose another", name);
            for (int i = 0; i < name.length(); i++) {
                char c = name.charAt(i);
                Preconditions.checkArgument(
                        c > ' ' && c < 0x7f && c != '/' && c != ':',
                        "tap name '%s' has '%s' at %s: interface names take printable ASCII without whitespace, '/' or ':'",
                        name,
                        c,
                        i);
            }
            int percent = name.indexOf('%');
            Preconditions.checkArgument(
                    percent < 0 || (name.startsWith("%d", percent) && name.indexOf('%', percent + 1) < 0),
                    "tap name '%s' has a '%' that is not a single %d: a pattern has exactly one %d (tap%d)",
                    name);
        }
    }
}
