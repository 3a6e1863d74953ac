package dev.vhostnet.driver;

import com.google.common.base.Preconditions;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.ring.Segment;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VirtioUapi;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The guest's virtio-net driver for one queue pair (RX = queue 0, TX = queue 1 of the pair), in
 * guest memory laid out by {@link DriverMemory}: frames are copied into TX buffers and out of RX
 * buffers, the device is kicked through its kick eventfds when the rings say so.
 *
 * <p>Header: 12 bytes with {@code VIRTIO_NET_F_MRG_RXBUF} or {@code VIRTIO_F_VERSION_1}, else 10
 * ({@link #headerSize}); the tap's vnet header size must match. RX buffers, as Linux's
 * {@code virtio_net} and the virtio spec (1.2, 5.1.6.3.1) ask: with {@code MRG_RXBUF} each buffer is
 * one descriptor of {@code bufferSize} (at least the header), a frame spans {@code num_buffers} of
 * them, and the ring must hold the largest frame; without it each buffer must hold the header and
 * a whole frame: 65550 bytes with guest GSO ({@code GUEST_TSO4/TSO6/UFO}), else 1514.
 *
 * <p>Interrupts: the caller owns the call eventfds. To wait, {@link #enableRxInterrupts()}; if it
 * returns true, receive again instead of waiting; otherwise wait on the RX call fd.
 *
 * <p>One thread at a time. Keep the object alive across a device stop and restart (see
 * {@link DriverQueue}).
 */
public final class VirtioNetDriver {
    /** The largest frame: the spec's big-buffer minimum less the header (a 64 KiB GSO frame fits). */
    public static final int MAX_FRAME = 65550;
    /** The largest frame without guest GSO: a 1500-byte MTU Ethernet frame without FCS. */
    public static final int SMALL_FRAME = 1514;

    private static final FeatureSet GUEST_GSO =
            FeatureSet.of(VirtioFeature.GUEST_TSO4, VirtioFeature.GUEST_TSO6, VirtioFeature.GUEST_UFO);

    private final DriverQueue<Integer> rx;
    private final DriverQueue<Integer> tx;
    private final GuestBufferPool rxPool;
    private final GuestBufferPool txPool;
    private final EventFd rxKick;
    private final EventFd txKick;
    private final int headerSize;
    private final boolean mergeable;
    private final int bufferSize;
    private final Integer[] tokens;
    private final int[] txNext;
    private final int[] mergedBuffers;
    private final int[] mergedLengths;
    private final List<Segment> segments = new ArrayList<>();
    private final DriverQueue.UsedHandler<Integer> txDone = (first, len) -> freeTx(first);
    private final DriverQueue.UsedHandler<Integer> rxTaken = (buffer, len) -> {
        polledBuffer = buffer;
        polledLength = len;
    };
    private int polledBuffer;
    private int polledLength;
    private int collectedBytes;
    /** Where a frame spread over several RX buffers is gathered for {@link #receive(int, RxHandler)}; made at the first. */
    private ByteBuffer gathered;

    private boolean txUnpublished;
    private long txFrames;
    private long txBytes;
    private long rxFrames;
    private long rxBytes;
    private long txFull;
    private long rxErrors;
    private long kicks;

    /**
     * A driver on {@code pair}'s rings and buffers (which this initializes), for the negotiated
     * {@code features}, kicking the device through {@code rxKick} / {@code txKick}.
     */
    public VirtioNetDriver(
            MemoryTable memory, DriverMemory.QueuePair pair, FeatureSet features, EventFd rxKick, EventFd txKick) {
        Preconditions.checkArgument(
                !features.has(VirtioFeature.RING_PACKED),
                "VIRTIO_F_RING_PACKED negotiated: this driver drives split rings only");
        this.headerSize = Features.vnetHeaderSize(features);
        this.mergeable = features.has(VirtioFeature.MRG_RXBUF);
        this.bufferSize = pair.bufferSize();
        checkRxBuffers(features, pair.bufferCount(), bufferSize);
        this.rxKick = Preconditions.checkNotNull(rxKick, "rxKick");
        this.txKick = Preconditions.checkNotNull(txKick, "txKick");
        this.rx = DriverQueue.<Integer>builder(memory, pair.rx(), features)
                .name("queue " + 2 * pair.index() + " (RX)")
                .build();
        this.tx = DriverQueue.<Integer>builder(memory, pair.tx(), features)
                .name("queue " + (2 * pair.index() + 1) + " (TX)")
                .indirect(pair.txIndirectGpa(), pair.txIndirectEntries())
                .build();
        this.rxPool = new GuestBufferPool(memory, pair.rxBuffersGpa(), pair.bufferCount(), bufferSize);
        this.txPool = new GuestBufferPool(memory, pair.txBuffersGpa(), pair.bufferCount(), bufferSize);
        this.tokens = new Integer[pair.bufferCount()];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i;
        }
        this.txNext = new int[pair.bufferCount()];
        this.mergedBuffers = new int[pair.rx().size()];
        this.mergedLengths = new int[pair.rx().size()];
    }

    /** The largest frame the device may deliver for {@code features}: {@link #MAX_FRAME} with guest GSO, else {@link #SMALL_FRAME}. */
    public static int largestRxFrame(FeatureSet features) {
        return features.hasAny(GUEST_GSO) ? MAX_FRAME : SMALL_FRAME;
    }

    private static void checkRxBuffers(FeatureSet features, int count, int bufferSize) {
        int header = Features.vnetHeaderSize(features);
        int largest = largestRxFrame(features);
        if (features.has(VirtioFeature.MRG_RXBUF)) {
            Preconditions.checkArgument(
                    bufferSize >= header && (long) count * bufferSize >= header + largest,
                    "with MRG_RXBUF, RX buffers must hold the %s-byte header and %s of them a %s-byte frame: "
                            + "%s of %s bytes do not",
                    header,
                    count,
                    largest,
                    count,
                    bufferSize);
        } else {
            Preconditions.checkArgument(
                    bufferSize >= header + largest,
                    "without MRG_RXBUF each RX buffer must hold the %s-byte header and a %s-byte frame%s: "
                            + "%s bytes do not",
                    header,
                    largest,
                    largest == MAX_FRAME ? " (guest GSO negotiated)" : "",
                    bufferSize);
        }
    }

    /** Sends {@code frame} behind {@code hdr}; false when the TX ring or buffers are full. */
    public boolean transmit(VirtioNetHeader hdr, byte[] frame) throws SysException {
        return transmit(hdr, frame, 0, frame.length);
    }

    /** Sends {@code frame[offset..offset+length)} behind {@code hdr}; false when full. */
    public boolean transmit(VirtioNetHeader hdr, byte[] frame, int offset, int length) throws SysException {
        if (!enqueue(hdr, frame, offset, length)) {
            return false;
        }
        flush();
        return true;
    }

    /** Sends the remaining bytes of {@code frame} with no offloads ({@link VirtioNetHeader#NONE}); false when full. */
    public boolean transmit(ByteBuffer frame) throws SysException {
        return transmit(VirtioNetHeader.NONE, frame);
    }

    /** Sends the remaining bytes of {@code frame} behind {@code hdr}, consuming them; false when full. */
    public boolean transmit(VirtioNetHeader hdr, ByteBuffer frame) throws SysException {
        int length = frame.remaining();
        int first = reserveTx(hdr, length);
        if (first < 0) {
            return false;
        }
        int buffer = first;
        int at = headerSize;
        for (int done = 0; done < length; at = 0) {
            int n = Math.min(bufferSize - at, length - done);
            txPool.buffer(buffer).put(at, frame, frame.position() + done, n);
            done += n;
            buffer = done < length ? txNext[buffer] : buffer;
        }
        postTx(first, length);
        frame.position(frame.limit());
        flush();
        return true;
    }

    /**
     * Adds a frame to the TX ring without publishing it: a batch of enqueues then one
     * {@link #flush()} costs one index update and at most one kick. False when full.
     */
    public boolean enqueue(VirtioNetHeader hdr, byte[] frame, int offset, int length) {
        Preconditions.checkPositionIndexes(offset, offset + length, frame.length);
        int first = reserveTx(hdr, length);
        if (first < 0) {
            return false;
        }
        int buffer = first;
        int at = headerSize;
        for (int done = 0; done < length; at = 0) {
            int n = Math.min(bufferSize - at, length - done);
            txPool.buffer(buffer).put(at, frame, offset + done, n);
            done += n;
            buffer = done < length ? txNext[buffer] : buffer;
        }
        postTx(first, length);
        return true;
    }

    /** Publishes enqueued frames and kicks the device if it asks for it. */
    public void flush() throws SysException {
        if (txUnpublished) {
            txUnpublished = false;
            tx.publish();
            if (tx.needsKick()) {
                kick(txKick);
            }
        }
    }

    /** Allocates and links the buffers of a frame and writes its header; -1 when full. */
    private int reserveTx(VirtioNetHeader hdr, int length) {
        Preconditions.checkArgument(
                hdr.numBuffers() == 0, "num_buffers is the device's: send 0, not %s", hdr.numBuffers());
        Preconditions.checkArgument(
                length > 0 && length <= MAX_FRAME, "a frame is 1 to %s bytes, not %s", MAX_FRAME, length);
        int count = (headerSize + length + bufferSize - 1) / bufferSize;
        Preconditions.checkArgument(
                count <= txPool.count(),
                "a %s-byte frame needs %s TX buffers of %s bytes; there are %s",
                length,
                count,
                bufferSize,
                txPool.count());
        if (txPool.available() < count || !tx.canAdd(count)) {
            reclaimTx();
            if (txPool.available() < count || !tx.canAdd(count)) {
                txFull++;
                return -1;
            }
        }
        int first = txPool.allocate();
        int last = first;
        for (int k = 1; k < count; k++) {
            int b = txPool.allocate();
            txNext[last] = b;
            last = b;
        }
        txNext[last] = -1;
        hdr.writeTo(txPool.buffer(first), 0, headerSize);
        return first;
    }

    private void postTx(int first, int length) {
        int total = headerSize + length;
        boolean added;
        if (txNext[first] < 0) {
            added = tx.addReadable(txPool.gpa(first), total, tokens[first]);
        } else {
            segments.clear();
            for (int b = first, left = total; b >= 0; b = txNext[b]) {
                int n = Math.min(bufferSize, left);
                segments.add(new Segment(txPool.gpa(b), n));
                left -= n;
            }
            added = tx.add(segments, List.of(), tokens[first]);
        }
        Preconditions.checkState(added, "TX ring refused a chain it had room for");
        txUnpublished = true;
        txFrames++;
        txBytes += length;
    }

    /** Frees the buffers of every frame the device has finished sending; returns how many frames. */
    public int reclaimTx() {
        return tx.poll(Integer.MAX_VALUE, txDone);
    }

    private void freeTx(int first) {
        for (int b = first; b >= 0; b = txNext[b]) {
            txPool.free(b);
        }
    }

    /** Posts every free RX buffer as one device-writable descriptor, kicking if asked; returns how many. */
    public int refillRx() throws SysException {
        int posted = 0;
        while (rx.canAdd(1)) {
            int b = rxPool.allocate();
            if (b < 0) {
                break;
            }
            rx.addWritable(rxPool.gpa(b), bufferSize, tokens[b]);
            posted++;
        }
        if (posted > 0) {
            rx.publish();
            if (rx.needsKick()) {
                kick(rxKick);
            }
        }
        return posted;
    }

    /**
     * {@link #refillRx()} once more than half the RX ring's descriptors are free, as Linux's
     * {@code virtnet_receive} calls {@code try_fill_recv}: one index update (and at most one kick)
     * per half ring instead of one per frame, while the device still holds the other half.
     */
    public int refillRxIfHalfFree() throws SysException {
        return rx.freeDescriptors() > rx.size() / 2 ? refillRx() : 0;
    }

    /**
     * Waits up to {@code millis} for RX work without spinning: enables RX interrupts and, unless
     * frames arrived meanwhile, waits on {@code rxCall} (the call eventfd of this pair's RX queue),
     * then suppresses interrupts again.
     */
    public void awaitRx(EventFd rxCall, int millis) throws SysException {
        awaitRx(rxCall, millis, 1);
    }

    /**
     * Waits until {@code buffers} more RX buffers are used (a frame each, unless merged) or
     * {@code millis} pass, then suppresses interrupts again: interrupt coalescing by count, as a
     * NIC's {@code ethtool -C rx-frames} with {@code rx-usecs}, done with {@code used_event}
     * ({@link DriverQueue#enableInterruptsAfter}), so the device signals once per
     * {@code buffers} instead of once per frame; never more than are posted. Without
     * {@code EVENT_IDX} it wakes at the first.
     */
    public void awaitRx(EventFd rxCall, int millis, int buffers) throws SysException {
        int posted = rx.size() - rx.freeDescriptors();
        if (!rx.enableInterruptsAfter(Math.max(1, Math.min(buffers, posted)))) {
            rxCall.await(millis);
        }
        disableRxInterrupts();
    }

    /**
     * The next frame received within {@code millis} (waiting on {@code rxCall}); buffers are
     * re-posted once half the ring is free ({@link #refillRxIfHalfFree}).
     */
    public Optional<RxFrame> receive(EventFd rxCall, int millis) throws SysException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (true) {
            Optional<RxFrame> frame = receive();
            if (frame.isPresent()) {
                refillRxIfHalfFree();
                return frame;
            }
            refillRx();
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return Optional.empty();
            }
            awaitRx(rxCall, (int) Math.min(left, 100));
        }
    }

    /**
     * The next received frame, its {@code num_buffers} buffers merged with {@code MRG_RXBUF}; empty
     * when none is waiting. Frames with a bad length or buffer count are dropped and counted.
     * Buffers are freed, not re-posted: call {@link #refillRx()} after a batch.
     */
    public Optional<RxFrame> receive() {
        while (rx.poll(1, rxTaken) == 1) {
            int count = collect();
            if (count > 0) {
                VirtioNetHeader hdr = VirtioNetHeader.readFrom(rxPool.buffer(mergedBuffers[0]), 0, headerSize);
                byte[] frame = new byte[collectedBytes];
                copyCollected(count, ByteBuffer.wrap(frame), 0);
                return Optional.of(new RxFrame(hdr, frame));
            }
        }
        return Optional.empty();
    }

    /**
     * Hands up to {@code budget} received frames to {@code handler} without allocating, then
     * re-posts buffers once half the ring is free — Linux's {@code virtnet_receive}, whose NAPI
     * budget bounds a batch; returns how many frames. A frame in one buffer is handed over in
     * place in guest memory; one spread over several ({@code MRG_RXBUF}) is first gathered into a
     * buffer this driver keeps. Either is valid only during the call. Bad frames are dropped and counted.
     */
    public int receive(int budget, RxHandler handler) throws SysException {
        int n = 0;
        while (n < budget && rx.poll(1, rxTaken) == 1) {
            int count = collect();
            if (count == 1) {
                handler.accept(rxPool.buffer(mergedBuffers[0]), headerSize, collectedBytes);
                rxPool.free(mergedBuffers[0]);
                n++;
            } else if (count > 1) {
                if (gathered == null) {
                    gathered = ByteBuffer.allocate(headerSize + MAX_FRAME).order(ByteOrder.LITTLE_ENDIAN);
                }
                gathered.put(0, rxPool.buffer(mergedBuffers[0]), 0, headerSize);
                copyCollected(count, gathered, headerSize);
                handler.accept(gathered, headerSize, collectedBytes);
                n++;
            }
        }
        refillRxIfHalfFree();
        return n;
    }

    /** Receives one frame in place: {@code length} bytes at {@code offset} of {@code buffer}, its header just before them. */
    @FunctionalInterface
    public interface RxHandler {
        void accept(ByteBuffer buffer, int offset, int length);
    }

    /**
     * Collects the frame whose first buffer was just polled: its {@code num_buffers} buffers into
     * {@code mergedBuffers}/{@code mergedLengths}, the frame's length into {@code collectedBytes};
     * returns the buffer count, or 0 when the frame was dropped (its buffers freed, counted).
     */
    private int collect() {
        int first = polledBuffer;
        if (polledLength < headerSize || polledLength > bufferSize) {
            return dropRx(1, first);
        }
        int count = mergeable
                ? Short.toUnsignedInt(rxPool.buffer(first).getShort(VirtioUapi.VIRTIO_NET_HDR_NUM_BUFFERS))
                : 1;
        if (count < 1 || count > mergedBuffers.length) {
            return dropRx(1, first);
        }
        mergedBuffers[0] = first;
        mergedLengths[0] = polledLength - headerSize;
        int total = mergedLengths[0];
        for (int k = 1; k < count; k++) {
            if (rx.poll(1, rxTaken) == 0) {
                return dropRx(k, -1);
            }
            mergedBuffers[k] = polledBuffer;
            if (polledLength < 0 || polledLength > bufferSize) {
                return dropRx(k + 1, -1);
            }
            mergedLengths[k] = polledLength;
            total += polledLength;
        }
        collectedBytes = total;
        rxFrames++;
        rxBytes += total;
        return count;
    }

    /** Copies the {@code count} collected buffers' frame bytes to {@code to} from index {@code at}, freeing them. */
    private void copyCollected(int count, ByteBuffer to, int at) {
        for (int k = 0; k < count; k++) {
            to.put(at, rxPool.buffer(mergedBuffers[k]), k == 0 ? headerSize : 0, mergedLengths[k]);
            at += mergedLengths[k];
            rxPool.free(mergedBuffers[k]);
        }
    }

    /** Frees {@code count} collected buffers (the first being {@code first} when not yet collected) and counts an error. */
    private int dropRx(int count, int first) {
        if (first >= 0) {
            mergedBuffers[0] = first;
        }
        for (int k = 0; k < count; k++) {
            rxPool.free(mergedBuffers[k]);
        }
        rxErrors++;
        return 0;
    }

    private void kick(EventFd fd) throws SysException {
        fd.signal();
        kicks++;
    }

    /** Asks the device to interrupt when a frame arrives; true when frames are already waiting (receive them instead of waiting). */
    public boolean enableRxInterrupts() {
        return rx.enableInterrupts();
    }

    /** Asks the device not to interrupt for received frames (a hint). */
    public void disableRxInterrupts() {
        rx.disableInterrupts();
    }

    /** Asks the device to interrupt when a sent frame completes; true when completions are already waiting. */
    public boolean enableTxInterrupts() {
        return tx.enableInterrupts();
    }

    /** Asks the device not to interrupt for sent frames (a hint). */
    public void disableTxInterrupts() {
        tx.disableInterrupts();
    }

    /** The virtio-net header size this driver uses: set the tap's vnet header size to it. */
    public int headerSize() {
        return headerSize;
    }

    /** TX buffers not holding a frame in flight. */
    public int freeTxBuffers() {
        return txPool.available();
    }

    /** RX buffers neither posted nor holding a frame. */
    public int freeRxBuffers() {
        return rxPool.available();
    }

    public DriverCounters counters() {
        return new DriverCounters(txFrames, txBytes, rxFrames, rxBytes, txFull, rxErrors, kicks);
    }

    @Override
    public String toString() {
        return "virtio-net driver: RX " + rx + ", TX " + tx;
    }
}
