package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.Fd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One request a front-end sent to this process as back-end: the header's id and flags, the payload,
 * and the fds that came with it as {@code SCM_RIGHTS}. The decoders check the payload has exactly
 * the size of its kind and that the fds are the ones the request carries, no fewer and no more
 * ({@code vhost-user.rst}, "Message Specification" and each request's entry); a request that breaks
 * a rule is a {@link VhostUserException} naming it. The request owns its fds until they are taken:
 * {@link #close()} closes the rest, so a request refused half-way leaks nothing.
 */
final class FrontendRequest implements AutoCloseable {
    /** A vring state: the vring index and a number (size, base, enable). */
    record VringState(int index, int num) {}

    /** A vring address: index, flags, the rings as front-end addresses, and the log's guest address. */
    record VringAddress(int index, int flags, long desc, long used, long avail, long log) {}

    /** A vring file: the index and its eventfd, or {@code null} with {@code VRING_NOFD}. */
    record VringFile(int index, Fd fd) {}

    private final int id;
    private final int flags;
    private final byte[] payload;
    private final List<Fd> fds;

    FrontendRequest(int id, int flags, byte[] payload, List<Fd> fds) {
        this.id = id;
        this.flags = flags;
        this.payload = payload;
        this.fds = new ArrayList<>(fds);
    }

    /** The request type, or {@code null} for an id this back-end does not know. */
    VhostUserRequest type() {
        return VhostUserRequest.of(id);
    }

    int id() {
        return id;
    }

    /** The spec's name, or the bare id for an unknown request. */
    String name() {
        return nameOf(id);
    }

    /** The spec's name of request {@code id}, or the bare id for one this back-end does not know. */
    static String nameOf(int id) {
        VhostUserRequest type = VhostUserRequest.of(id);
        return type != null ? type.specName() : "vhost-user request " + id;
    }

    /** Whether the front-end asked for a {@code REPLY_ACK} status. */
    boolean needReply() {
        return (flags & VhostUserMessage.FLAG_NEED_REPLY) != 0;
    }

    int fdCount() {
        return fds.size();
    }

    /** A protocol violation by this request. */
    VhostUserException violation(String detail) {
        return VhostUserException.protocol(name(), detail);
    }

    /** Checks a request without payload and fds. */
    void expectEmpty() throws VhostUserException {
        expect(0, "no payload");
        expectFds(0);
    }

    long u64() throws VhostUserException {
        expect(VhostUserMessage.U64_SIZE, "a u64");
        expectFds(0);
        return buffer().getLong();
    }

    VringState vringState() throws VhostUserException {
        expect(VhostUserMessage.VRING_STATE_SIZE, "a vring state");
        expectFds(0);
        ByteBuffer b = buffer();
        return new VringState(b.getInt(), b.getInt());
    }

    VringAddress vringAddress() throws VhostUserException {
        expect(VhostUserMessage.VRING_ADDR_SIZE, "a vring address");
        expectFds(0);
        ByteBuffer b = buffer();
        return new VringAddress(b.getInt(), b.getInt(), b.getLong(), b.getLong(), b.getLong(), b.getLong());
    }

    /** A vring file; its fd, if any, is taken from this request (the caller owns it). */
    VringFile vringFile() throws VhostUserException {
        expect(VhostUserMessage.U64_SIZE, "a vring file (u64)");
        long value = buffer().getLong();
        long unknown = value & ~(VhostUserMessage.VRING_INDEX_MASK | VhostUserMessage.VRING_NOFD);
        if (unknown != 0) {
            throw violation(
                    String.format("the vring file 0x%x has bits set besides the index and NOFD (0x100)", value));
        }
        boolean noFd = (value & VhostUserMessage.VRING_NOFD) != 0;
        expectFds(noFd ? 0 : 1);
        return new VringFile((int) (value & VhostUserMessage.VRING_INDEX_MASK), noFd ? null : take(0));
    }

    /**
     * A memory table: 1 to {@value VhostUserMessage#MAX_MEM_REGIONS} regions, the payload exactly
     * their size, one fd per region. The fds stay here: {@link #takeAll()} takes them.
     */
    List<VhostUserMessage.MemRegion> memTable() throws VhostUserException {
        if (payload.length < VhostUserMessage.MEM_HEADER_SIZE) {
            throw violation("the payload has " + payload.length + " bytes, less than the memory table's 8-byte header");
        }
        ByteBuffer b = buffer();
        long count = Integer.toUnsignedLong(b.getInt());
        b.getInt();
        if (count < 1 || count > VhostUserMessage.MAX_MEM_REGIONS) {
            throw violation("the table has " + count + " regions; this back-end takes 1 to "
                    + VhostUserMessage.MAX_MEM_REGIONS + " (no CONFIGURE_MEM_SLOTS)");
        }
        expect(
                VhostUserMessage.MEM_HEADER_SIZE + (int) count * VhostUserMessage.MEM_REGION_SIZE,
                "a memory table of " + count + " regions");
        expectFds((int) count);
        List<VhostUserMessage.MemRegion> regions = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            regions.add(new VhostUserMessage.MemRegion(b.getLong(), b.getLong(), b.getLong(), b.getLong()));
        }
        return regions;
    }

    /** Takes every fd of this request, in the order they came. */
    List<Fd> takeAll() {
        List<Fd> all = List.copyOf(fds);
        fds.clear();
        return all;
    }

    private Fd take(int index) {
        return fds.remove(index);
    }

    private void expect(int size, String what) throws VhostUserException {
        if (payload.length != size) {
            throw violation("the payload has " + payload.length + " bytes; " + what + " is " + size);
        }
    }

    private void expectFds(int count) throws VhostUserException {
        if (fds.size() != count) {
            throw violation(fds.size() + " fds came with it; it carries " + (count == 0 ? "none" : count));
        }
    }

    /** The payload in the host's byte order, as vhost-user messages are (not little-endian like the rings). */
    private ByteBuffer buffer() {
        return ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
    }

    /** Closes the fds not taken. */
    @Override
    public void close() {
        fds.forEach(Fd::close);
        fds.clear();
    }
}
