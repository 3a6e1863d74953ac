package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.tap.TapConfig;
import java.io.IOException;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * "Open a tap with these options and hand me its queue fds and {@code vhostFds} vhost-net fds".
 * Immutable; {@link Builder#build()} applies the tap module's own checks ({@link TapConfig}), so a
 * request the client could build is one the broker can parse, and one it cannot is refused with
 * the same message on both sides.
 *
 * <p>Body of an {@code OPEN_TAP} message (kind 1), big-endian, every field required, nothing after:
 * <pre>
 *   u8   name length, then that many bytes of UTF-8: a name or a pattern with one %d
 *   u16  queues                (1..256; the policy may allow fewer)
 *   u16  vhost-net fds         (0..queues)
 *   u8   vnet header size      (0, 10 or 12)
 *   u32  offloads              (TUN_F_* bits of &lt;linux/if_tun.h&gt;)
 *   u8   flags                 bit 0 persistent, bit 1 up, bit 2 MTU follows, bit 3 MAC follows; others 0
 *   u32  MTU                   only with bit 2
 *   6    MAC                   only with bit 3
 * </pre>
 */
public final class BrokerRequest {
    static final int FLAG_PERSISTENT = 1;
    static final int FLAG_UP = 2;
    static final int FLAG_MTU = 4;
    static final int FLAG_MAC = 8;
    static final int KNOWN_FLAGS = FLAG_PERSISTENT | FLAG_UP | FLAG_MTU | FLAG_MAC;

    private final TapConfig tapConfig;
    private final int vhostFds;

    private BrokerRequest(TapConfig tapConfig, int vhostFds) {
        this.tapConfig = tapConfig;
        this.vhostFds = vhostFds;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The tap name or {@code %d} pattern asked for. */
    public String name() {
        return tapConfig.name();
    }

    public int queues() {
        return tapConfig.queues();
    }

    /** How many {@code /dev/vhost-net} fds to open (one per queue pair). */
    public int vhostFds() {
        return vhostFds;
    }

    public int vnetHeaderSize() {
        return tapConfig.vnetHeaderSize();
    }

    public ImmutableSet<Offload> offloads() {
        return tapConfig.offloads();
    }

    public boolean persistent() {
        return tapConfig.persistent();
    }

    public boolean up() {
        return tapConfig.up();
    }

    public OptionalInt mtu() {
        return tapConfig.mtu();
    }

    public Optional<MacAddress> mac() {
        return tapConfig.mac();
    }

    /** The tap this asks for, as the tap module will open it (no owner or group: fds are handed over instead). */
    public TapConfig tapConfig() {
        return tapConfig;
    }

    /** The whole message, header included. */
    public byte[] encode() {
        Wire.Out out = new Wire.Out()
                .str8(name())
                .u16(queues())
                .u16(vhostFds)
                .u8(vnetHeaderSize())
                .u32(Offload.flags(offloads()))
                .u8((persistent() ? FLAG_PERSISTENT : 0)
                        | (up() ? FLAG_UP : 0)
                        | (mtu().isPresent() ? FLAG_MTU : 0)
                        | (mac().isPresent() ? FLAG_MAC : 0));
        mtu().ifPresent(out::u32);
        mac().ifPresent(m -> out.raw(m.bytes()));
        return new Wire.Frame(Wire.KIND_OPEN_TAP, out.bytes()).encode();
    }

    /** Parses the body of a frame; any fault is a {@link ProtocolException} naming it. */
    static BrokerRequest decode(Wire.Frame frame) throws IOException {
        if (frame.kind() != Wire.KIND_OPEN_TAP) {
            throw new ProtocolException(
                    BrokerReply.Code.MALFORMED,
                    "unknown request kind " + frame.kind() + " (this broker knows 1, OPEN_TAP)");
        }
        Wire.In in = new Wire.In(frame.body());
        Builder b = builder();
        b.name(in.str8("name"));
        b.queues(in.u16("queues"));
        b.vhostFds(in.u16("vhost fd count"));
        b.vnetHeader(in.u8("vnet header size"));
        long offloadBits = in.u32("offloads");
        int flags = in.u8("flags");
        if ((flags & ~KNOWN_FLAGS) != 0) {
            throw new ProtocolException(
                    BrokerReply.Code.MALFORMED, String.format("unknown flag bits 0x%02x", flags & ~KNOWN_FLAGS));
        }
        b.persistent((flags & FLAG_PERSISTENT) != 0).up((flags & FLAG_UP) != 0);
        if ((flags & FLAG_MTU) != 0) {
            long mtu = in.u32("MTU");
            b.mtu((int) Math.min(mtu, Integer.MAX_VALUE));
        }
        if ((flags & FLAG_MAC) != 0) {
            b.mac(MacAddress.of(in.raw(6, "MAC")));
        }
        in.end();
        Set<Offload> offloads = Offload.fromFlags((int) offloadBits);
        if (offloadBits != Offload.flags(offloads)) {
            throw new ProtocolException(
                    BrokerReply.Code.MALFORMED,
                    String.format("unknown offload bits 0x%x", offloadBits & ~Offload.flags(offloads)));
        }
        b.offloads(offloads.toArray(Offload[]::new));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(BrokerReply.Code.INVALID, e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "BrokerRequest[" + PeerText.escape(tapConfig.toString()) + ", vhostFds=" + vhostFds + "]";
    }

    /** Collects a request; {@link #build()} checks it as the broker will. */
    public static final class Builder {
        private final TapConfig.Builder tap = TapConfig.builder();
        private int vhostFds;

        private Builder() {}

        /** A tap name or a pattern with one {@code %d}; the broker's policy decides which are allowed. */
        public Builder name(String name) {
            tap.name(Preconditions.checkNotNull(name, "name"));
            return this;
        }

        public Builder queues(int queues) {
            tap.queues(queues);
            return this;
        }

        /** vhost-net fds to open, 0 (the default) to the number of queues. */
        public Builder vhostFds(int count) {
            this.vhostFds = count;
            return this;
        }

        public Builder vnetHeader(int size) {
            tap.vnetHeader(size);
            return this;
        }

        public Builder offloads(Offload... wanted) {
            tap.offloads(wanted);
            return this;
        }

        public Builder persistent(boolean persistent) {
            tap.persistent(persistent);
            return this;
        }

        public Builder up(boolean up) {
            tap.up(up);
            return this;
        }

        public Builder mtu(int mtu) {
            tap.mtu(mtu);
            return this;
        }

        public Builder mac(MacAddress mac) {
            tap.mac(Preconditions.checkNotNull(mac, "mac"));
            return this;
        }

        /** Checks the request with the tap module's rules, the fd counts and the size limit. */
        public BrokerRequest build() {
            TapConfig config = tap.build();
            int queues = config.queues();
            Preconditions.checkArgument(
                    vhostFds >= 0 && vhostFds <= queues,
                    "vhost-net fds must be 0 to the number of queues (%s), one per queue pair, not %s",
                    queues,
                    vhostFds);
            Preconditions.checkArgument(
                    queues + vhostFds <= Wire.SCM_MAX_FD,
                    "%s queue fds and %s vhost-net fds exceed the %s fds one message can carry (SCM_MAX_FD)",
                    queues,
                    vhostFds,
                    Wire.SCM_MAX_FD);
            return new BrokerRequest(config, vhostFds);
        }
    }
}
