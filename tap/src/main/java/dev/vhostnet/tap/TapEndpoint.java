package dev.vhostnet.tap;

import com.google.common.base.Preconditions;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Hint;
import dev.vhostnet.sys.PollUapi;
import dev.vhostnet.sys.SysException;
import java.nio.ByteBuffer;
import java.time.Duration;

/**
 * The packet side of one {@link TapQueue}, for a data path: each read returns one frame, each
 * write sends one, prefixed by a {@code virtio_net_hdr} of {@link #vnetHeaderSize()} bytes when
 * the tap has one. Non-blocking: a read with nothing queued returns 0; {@link #awaitReadable}
 * waits. Does not own the fd (the queue does).
 */
public final class TapEndpoint {
    private final TapQueue queue;
    private final int vnetHeaderSize;

    TapEndpoint(TapQueue queue, int vnetHeaderSize) {
        this.queue = queue;
        this.vnetHeaderSize = vnetHeaderSize;
    }

    public TapQueue queue() {
        return queue;
    }

    /** Bytes of {@code virtio_net_hdr} before each frame, 0 without one. */
    public int vnetHeaderSize() {
        return vnetHeaderSize;
    }

    /**
     * Reads one frame into native memory of {@code capacity} bytes; returns its length (header
     * included), or 0 when none is queued. A frame longer than {@code capacity} is cut short.
     */
    public long read(Pointer buf, long capacity) throws SysException {
        try {
            return queue.fd().read(buf, capacity);
        } catch (SysException e) {
            if (e.is(Errno.EAGAIN)) {
                return 0;
            }
            throw TapErrors.at(e, queue.where(), Hint.NONE);
        }
    }

    /** Writes one frame of {@code length} bytes (header included) from native memory; returns the bytes written. */
    public long write(Pointer buf, long length) throws SysException {
        try {
            return queue.fd().write(buf, length);
        } catch (SysException e) {
            throw TapErrors.at(
                    e,
                    queue.where(),
                    errno -> errno == Errno.EINVAL.number()
                            ? "the frame is shorter than its vnet header and an Ethernet header, or its vnet header is inconsistent"
                            : null);
        }
    }

    /**
     * Reads one frame into a direct buffer from its position; returns the length and advances
     * the position by it, or returns 0 when none is queued.
     */
    public int read(ByteBuffer dst) throws SysException {
        Preconditions.checkArgument(dst.isDirect(), "the tap reads into native memory: use a direct ByteBuffer");
        int n = (int) read(Native.getDirectBufferPointer(dst).share(dst.position()), dst.remaining());
        dst.position(dst.position() + n);
        return n;
    }

    /** Writes the bytes from position to limit of a direct buffer as one frame; advances the position. */
    public int write(ByteBuffer src) throws SysException {
        Preconditions.checkArgument(src.isDirect(), "the tap writes from native memory: use a direct ByteBuffer");
        int n = (int) write(Native.getDirectBufferPointer(src).share(src.position()), src.remaining());
        src.position(src.position() + n);
        return n;
    }

    /** Waits up to {@code timeout} for a frame to read; returns whether one is queued. */
    public boolean awaitReadable(Duration timeout) throws SysException {
        int millis = (int) Math.min(Integer.MAX_VALUE, Math.max(0, timeout.toMillis()));
        return (queue.fd().poll(PollUapi.POLLIN, millis) & PollUapi.POLLIN) != 0;
    }
}
