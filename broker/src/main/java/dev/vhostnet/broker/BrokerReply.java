package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.tap.Offload;
import java.io.IOException;

/**
 * The broker's answer: either the tap it opened (kind 1, the fds ride on the same message as
 * {@code SCM_RIGHTS}, queue fds first, then vhost-net fds) or an error (kind 2, no fds).
 *
 * <pre>
 *   OK (kind 1):    u8 name length + UTF-8 name (the kernel's, %d filled in),
 *                   u16 queue fds, u16 vhost-net fds, u8 vnet header size, u32 offloads taken (TUN_F_*)
 *   ERROR (kind 2): u8 code ({@link Code}), u16 message length + UTF-8 message (at most 900 bytes)
 * </pre>
 */
public final class BrokerReply {
    /** Why a request was refused; the number is what goes on the wire. */
    public enum Code {
        /** Not a broker message: bad magic, truncated, bad UTF-8, unknown kind, flags or trailing bytes. */
        MALFORMED(1),
        /** A protocol version this broker does not speak. */
        UNSUPPORTED_VERSION(2),
        /** A body over the size limit. */
        TOO_LARGE(3),
        /** The peer's credentials or the name are not allowed by the policy. */
        DENIED(4),
        /** Well-formed but not a valid tap (the tap module's checks) or over the policy's limits. */
        INVALID(5),
        /** {@code /dev/vhost-net} cannot be opened here. */
        VHOST_UNAVAILABLE(6),
        /** The kernel refused a step of opening the tap. */
        FAILED(7),
        /** The request did not arrive within the broker's read timeout. */
        TIMEOUT(8),
        /** The broker has as many clients as it serves at once. */
        BUSY(9),
        /** A code this client does not know (a newer broker). */
        UNKNOWN(255);

        private final int wire;

        Code(int wire) {
            this.wire = wire;
        }

        public int wire() {
            return wire;
        }

        static Code of(int wire) {
            for (Code c : values()) {
                if (c.wire == wire) {
                    return c;
                }
            }
            return UNKNOWN;
        }
    }

    static final int MAX_MESSAGE = 900;

    private final Code code;
    private final String message;
    private final String tapName;
    private final int queueFds;
    private final int vhostFds;
    private final int vnetHeaderSize;
    private final ImmutableSet<Offload> offloads;

    private BrokerReply(
            Code code,
            String message,
            String tapName,
            int queueFds,
            int vhostFds,
            int vnetHeaderSize,
            ImmutableSet<Offload> offloads) {
        this.code = code;
        this.message = message;
        this.tapName = tapName;
        this.queueFds = queueFds;
        this.vhostFds = vhostFds;
        this.vnetHeaderSize = vnetHeaderSize;
        this.offloads = offloads;
    }

    /** A tap was opened; {@code queueFds + vhostFds} fds go with this reply. */
    public static BrokerReply ok(
            String tapName, int queueFds, int vhostFds, int vnetHeaderSize, ImmutableSet<Offload> offloads) {
        return new BrokerReply(
                null, null, Preconditions.checkNotNull(tapName), queueFds, vhostFds, vnetHeaderSize, offloads);
    }

    public static BrokerReply error(Code code, String message) {
        return new BrokerReply(
                Preconditions.checkNotNull(code), message == null ? "" : message, null, 0, 0, 0, ImmutableSet.of());
    }

    public boolean isOk() {
        return code == null;
    }

    /** The error code; throws for an OK reply. */
    public Code code() {
        Preconditions.checkState(code != null, "an OK reply has no error code");
        return code;
    }

    /** The error message ("" for an OK reply). */
    public String message() {
        return message == null ? "" : message;
    }

    public String tapName() {
        return tapName;
    }

    public int queueFds() {
        return queueFds;
    }

    public int vhostFds() {
        return vhostFds;
    }

    public int vnetHeaderSize() {
        return vnetHeaderSize;
    }

    /** The offloads the kernel took. */
    public ImmutableSet<Offload> offloads() {
        return offloads;
    }

    /** The whole message, header included. */
    public byte[] encode() {
        if (isOk()) {
            return new Wire.Frame(
                            Wire.KIND_OK,
                            new Wire.Out()
                                    .str8(tapName)
                                    .u16(queueFds)
                                    .u16(vhostFds)
                                    .u8(vnetHeaderSize)
                                    .u32(Offload.flags(offloads))
                                    .bytes())
                    .encode();
        }
        return new Wire.Frame(
                        Wire.KIND_ERROR,
                        new Wire.Out()
                                .u8(code.wire())
                                .str16(message, MAX_MESSAGE)
                                .bytes())
                .encode();
    }

    static BrokerReply decode(Wire.Frame frame) throws IOException {
        Wire.In in = new Wire.In(frame.body());
        BrokerReply reply;
        if (frame.kind() == Wire.KIND_OK) {
            reply = ok(
                    in.str8("tap name"),
                    in.u16("queue fd count"),
                    in.u16("vhost fd count"),
                    in.u8("vnet header size"),
                    Offload.fromFlags((int) in.u32("offloads")));
        } else if (frame.kind() == Wire.KIND_ERROR) {
            reply = error(Code.of(in.u8("error code")), in.str16("message"));
        } else {
            throw new ProtocolException(Code.MALFORMED, "unknown reply kind " + frame.kind());
        }
        in.end();
        return reply;
    }

    @Override
    public String toString() {
        return isOk()
                ? "BrokerReply[ok " + tapName + ", " + queueFds + " queue fd(s), " + vhostFds
                        + " vhost-net fd(s), vnet header " + vnetHeaderSize + ", offloads " + offloads + "]"
                : "BrokerReply[" + code + ": " + message + "]";
    }
}
