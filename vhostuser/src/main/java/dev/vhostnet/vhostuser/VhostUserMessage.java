package dev.vhostnet.vhostuser;

import com.google.common.base.Preconditions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * One vhost-user message: a 12-byte header ({@code request} u32, {@code flags} u32, {@code size} u32)
 * and {@code size} bytes of payload, all in the machine's byte order ({@code vhost-user.rst},
 * "Message Specification"). File descriptors travel beside it as {@code SCM_RIGHTS}, not in it.
 * Encoders for each payload kind the front-end sends, and checked decoders for the replies.
 */
public final class VhostUserMessage {
    /** Bytes of the header. */
    public static final int HEADER_SIZE = 12;
    /** Lower two bits of {@code flags}: the protocol version, currently 1. */
    public static final int VERSION = 0x1;

    public static final int VERSION_MASK = 0x3;
    /** Bit 2 of {@code flags}: set on every reply from the back-end. */
    public static final int FLAG_REPLY = 1 << 2;
    /** Bit 3 of {@code flags}: the front-end asks for a {@code REPLY_ACK} answer. */
    public static final int FLAG_NEED_REPLY = 1 << 3;
    /** Regions of {@code SET_MEM_TABLE} (QEMU's {@code VHOST_MEMORY_BASELINE_NREGIONS}). */
    public static final int MAX_MEM_REGIONS = 8;
    /** Bits 0-7 of a vring file payload: the vring index. */
    public static final long VRING_INDEX_MASK = 0xff;
    /** Bit 8 of a vring file payload: no fd in the ancillary data (polling). */
    public static final long VRING_NOFD = 0x100;
    /** {@code VHOST_VRING_F_LOG}, bit 0 of the vring address flags. */
    public static final int VRING_F_LOG = 1;
    /** Payload sizes. */
    public static final int U64_SIZE = 8;

    public static final int VRING_STATE_SIZE = 8;
    public static final int VRING_ADDR_SIZE = 40;
    public static final int MEM_REGION_SIZE = 32;
    public static final int MEM_HEADER_SIZE = 8;
    /** Bytes of {@code VhostUserConfig} before its payload: offset, size, flags. */
    public static final int CONFIG_HEADER_SIZE = 12;
    /** The largest payload this side accepts: QEMU's {@code VhostUserPayload} union is 256 + 8·32 bytes at most; 4 KiB bounds it. */
    public static final int MAX_PAYLOAD = 4096;

    /** One region of a memory table as sent: guest address, size, address in this process, offset in its fd. */
    public record MemRegion(long guestAddress, long size, long userAddress, long mmapOffset) {}

    /** A decoded header. */
    public record Header(int request, int flags, int size) {
        public boolean isReply() {
            return (flags & FLAG_REPLY) != 0;
        }

        public int version() {
            return flags & VERSION_MASK;
        }
    }

    private VhostUserMessage() {}

    /**
     * Messages are in the host's byte order: vhost-user's spec says so (both ends run on one host),
     * unlike ring memory, which virtio makes little-endian. So every message buffer here is native.
     */
    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    /** Header and payload of a front-end request, ready for one {@code sendmsg}. */
    public static byte[] request(VhostUserRequest request, boolean needReply, byte[] payload) {
        Preconditions.checkArgument(payload.length <= MAX_PAYLOAD, "payload of %s bytes", payload.length);
        ByteBuffer b = buffer(HEADER_SIZE + payload.length);
        b.putInt(request.id())
                .putInt(VERSION | (needReply ? FLAG_NEED_REPLY : 0))
                .putInt(payload.length)
                .put(payload);
        return b.array();
    }

    /** Header (REPLY bit set) and payload of a back-end's reply to request {@code id}. */
    public static byte[] reply(int id, byte[] payload) {
        Preconditions.checkArgument(payload.length <= MAX_PAYLOAD, "payload of %s bytes", payload.length);
        return buffer(HEADER_SIZE + payload.length)
                .putInt(id)
                .putInt(VERSION | FLAG_REPLY)
                .putInt(payload.length)
                .put(payload)
                .array();
    }

    public static Header decodeHeader(byte[] header) {
        Preconditions.checkArgument(
                header.length == HEADER_SIZE, "a header is %s bytes, not %s", HEADER_SIZE, header.length);
        ByteBuffer b = ByteBuffer.wrap(header).order(ByteOrder.nativeOrder());
        return new Header(b.getInt(), b.getInt(), b.getInt());
    }

    /** No payload. */
    public static byte[] empty() {
        return new byte[0];
    }

    /** A single u64. */
    public static byte[] u64(long value) {
        return buffer(U64_SIZE).putLong(value).array();
    }

    /** A vring state: index u32, num u32. */
    public static byte[] vringState(int index, int num) {
        return buffer(VRING_STATE_SIZE).putInt(index).putInt(num).array();
    }

    /**
     * A vring address: index u32, flags u32, then descriptor, used, available (addresses in the
     * front-end's address space) and log (a guest address), each u64. The spec's table shows a
     * "size" column between flags and descriptor, but its field list, QEMU's
     * {@code struct vhost_vring_addr} and rust-vmm's {@code VhostUserVringAddr} have none: 40 bytes.
     */
    public static byte[] vringAddr(int index, int flags, long desc, long used, long avail, long log) {
        return buffer(VRING_ADDR_SIZE)
                .putInt(index)
                .putInt(flags)
                .putLong(desc)
                .putLong(used)
                .putLong(avail)
                .putLong(log)
                .array();
    }

    /**
     * A memory table: number of regions u32, padding u32, then that many regions of four u64
     * (QEMU sends only the regions in use; the fds, one per region in the same order, go as SCM_RIGHTS).
     */
    public static byte[] memTable(List<MemRegion> regions) {
        Preconditions.checkArgument(
                !regions.isEmpty() && regions.size() <= MAX_MEM_REGIONS,
                "a vhost-user memory table has 1 to %s regions, not %s (more needs CONFIGURE_MEM_SLOTS)",
                MAX_MEM_REGIONS,
                regions.size());
        ByteBuffer b = buffer(MEM_HEADER_SIZE + regions.size() * MEM_REGION_SIZE);
        b.putInt(regions.size()).putInt(0);
        for (MemRegion r : regions) {
            b.putLong(r.guestAddress())
                    .putLong(r.size())
                    .putLong(r.userAddress())
                    .putLong(r.mmapOffset());
        }
        return b.array();
    }

    /** A vring file (kick, call, err): the index in bits 0-7, {@link #VRING_NOFD} when no fd goes with it. */
    public static byte[] vringFile(int index, boolean noFd) {
        Preconditions.checkArgument(
                index >= 0 && index <= VRING_INDEX_MASK, "vring index %s does not fit 8 bits", index);
        return u64(index | (noFd ? VRING_NOFD : 0));
    }

    /** A config space access: offset u32, size u32, flags u32, then {@code data} ({@code size} bytes). */
    public static byte[] config(int offset, int flags, byte[] data) {
        return buffer(CONFIG_HEADER_SIZE + data.length)
                .putInt(offset)
                .putInt(data.length)
                .putInt(flags)
                .put(data)
                .array();
    }

    /**
     * Checks a reply header against the request it answers, before its payload is read: the
     * reply bit, version 1, the same request id, and a size no larger than {@link #MAX_PAYLOAD}.
     */
    public static void checkReplyHeader(VhostUserRequest request, Header h) throws VhostUserException {
        if (!h.isReply()) {
            throw VhostUserException.protocol(
                    request, String.format("the answer has flags 0x%x: no REPLY bit (0x4)", h.flags()));
        }
        if (h.version() != VERSION) {
            throw VhostUserException.protocol(request, "the reply has version " + h.version() + ", not 1");
        }
        if (h.request() != request.id()) {
            VhostUserRequest other = VhostUserRequest.of(h.request());
            throw VhostUserException.protocol(
                    request,
                    "the reply is for request " + h.request() + (other != null ? " (" + other.specName() + ")" : "")
                            + ", not " + request.id());
        }
        if (h.size() < 0 || h.size() > MAX_PAYLOAD) {
            throw VhostUserException.protocol(
                    request,
                    "the reply announces " + Integer.toUnsignedString(h.size()) + " payload bytes, more than "
                            + MAX_PAYLOAD);
        }
    }

    /** The u64 of a reply (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, a REPLY_ACK). */
    public static long decodeU64(VhostUserRequest request, byte[] payload) throws VhostUserException {
        checkSize(request, payload, U64_SIZE, "a u64");
        return ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder()).getLong();
    }

    /** The num of a vring state reply (GET_VRING_BASE), checked to be for vring {@code index}. */
    public static int decodeVringState(VhostUserRequest request, int index, byte[] payload) throws VhostUserException {
        checkSize(request, payload, VRING_STATE_SIZE, "a vring state");
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
        int replyIndex = b.getInt();
        int num = b.getInt();
        if (replyIndex != index) {
            throw VhostUserException.protocol(request, "the reply is for vring " + replyIndex + ", not " + index);
        }
        return num;
    }

    /** The data of a GET_CONFIG reply, checked to echo {@code offset} and {@code size}. */
    public static byte[] decodeConfig(VhostUserRequest request, int offset, int size, byte[] payload)
            throws VhostUserException {
        if (payload.length == 0) {
            throw VhostUserException.refused(request.specName(), "the back-end refused (empty reply)");
        }
        checkSize(request, payload, CONFIG_HEADER_SIZE + size, "a config of " + size + " bytes");
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
        int replyOffset = b.getInt();
        int replySize = b.getInt();
        b.getInt();
        if (replyOffset != offset || replySize != size) {
            throw VhostUserException.protocol(
                    request,
                    String.format(
                            "the reply is for offset %d size %d, not %d %d", replyOffset, replySize, offset, size));
        }
        return Arrays.copyOfRange(payload, CONFIG_HEADER_SIZE, payload.length);
    }

    private static void checkSize(VhostUserRequest request, byte[] payload, int expected, String what)
            throws VhostUserException {
        if (payload.length != expected) {
            throw VhostUserException.protocol(
                    request, "the reply has " + payload.length + " payload bytes; " + what + " is " + expected);
        }
    }
}
