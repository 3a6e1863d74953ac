package dev.vhostnet.ctl.emulated;

import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.device.DescriptorChain;
import dev.vhostnet.ctl.device.DeviceQueue;
import dev.vhostnet.ctl.ring.LittleEndian;
import dev.vhostnet.ctl.vhost.VringErrorListener;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.TapQueue;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.Buffer;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One virtio-net queue pair served in this process on one Netty epoll event loop, as QEMU's
 * virtio-net does without vhost: TX pops a chain and, as {@link TxCopy} says, gathers it out of
 * guest memory into a direct buffer (copy 1) and writes that to the tap (copy 2, in the kernel), or
 * writes the chain's buffers to the tap with one {@code writev} ({@link TxIovecs}); RX reads the tap
 * into the buffer (copy 1) and scatters it into posted RX buffers (copy 2). With no RX buffer posted it
 * stops reading the tap and holds the frame it has until the driver kicks the RX queue: nothing is
 * read and dropped. Everything here runs on the loop's thread; steady state allocates nothing.
 *
 * <p>The pair holds its own duplicate of every descriptor it watches or writes, as vhost holds a
 * reference to each file it is given ({@code fget} in {@code vhost_vring_ioctl}), so a caller
 * closing an eventfd or tap under it cannot hand the loop a number the kernel has reused. A queue
 * the driver breaks stops being served, the tap is no longer read for a broken RX queue; an fd
 * that reports an error stops the pair; either way its loop goes idle and a restart serves it again.
 */
final class EmulatedQueuePair {
    private static final Logger log = LoggerFactory.getLogger(EmulatedQueuePair.class);
    /** Largest frame: a 64 KiB GSO frame plus the 12-byte header. */
    static final int BUFFER = 65550 + VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE;

    /**
     * The tap's interest while the driver has no RX buffer or the RX queue is broken: errors only. (Netty removes a handle
     * submitting {@code NONE} from the epoll set, and a later {@code EPOLLIN} then fails.)
     */
    private static final EpollIoOps PAUSED = EpollIoOps.EPOLLERR;

    /**
     * TX chains between used-index flushes within one pass, so the driver takes its buffers back
     * while the pass goes on instead of waiting for the ring to run dry (vhost-net's
     * {@code VHOST_NET_BATCH}, DPDK's burst).
     */
    static final int TX_FLUSH_BATCH = 32;

    /**
     * TX chains in one pass before the loop serves its other fds and devices; the pass then kicks
     * its own queue, notifications still off, and goes on when the loop comes back to it, after
     * the fds that were ready meanwhile (QEMU's {@code tx_burst}, vhost-net's
     * {@code VHOST_NET_PKT_WEIGHT}): a driver that keeps the ring full cannot hold a shared loop.
     * (A task would not do: Netty runs a task queued by a task in the same batch, before any I/O.)
     */
    static final int TX_WEIGHT = 256;

    private final int index;
    private final MemoryTable memory;
    private final GuestCopier guest;
    /** The TX chain as iovecs, in {@link TxCopy#SINGLE}; null in {@link TxCopy#DOUBLE}. */
    private final TxIovecs txIovecs;

    private final DeviceQueue rx;
    private final DeviceQueue tx;
    private final FileDescriptor tap;
    private final FileDescriptor txKickFd;
    private final FileDescriptor rxKickFd;
    private final FileDescriptor txCallFd;
    private final FileDescriptor rxCallFd;
    private final List<Fd> held = new ArrayList<>();
    private final String tapName;
    private final int headerSize;
    private final boolean tapHasHeader;
    private final boolean mergeable;
    private final IoEventLoop loop;
    private final ByteBuffer txBuffer = ByteBuffer.allocateDirect(BUFFER);
    private final ByteBuffer rxBuffer = ByteBuffer.allocateDirect(BUFFER);
    /** {@link #txBuffer}'s address, for Netty's {@code writeAddress}: no buffer checks in JNI per frame. */
    private final long txAddress = Buffer.memoryAddress(txBuffer);
    /** {@link #rxBuffer}'s address, for {@code readAddress}. */
    private final long rxAddress = Buffer.memoryAddress(rxBuffer);

    private final ByteBuffer eventfdWord = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    private final DescriptorChain chain = new DescriptorChain();
    private final int[] rxHeads;
    private final int[] rxLengths;
    private final PairCounters counters = new PairCounters();
    private IoRegistration txKick;
    private IoRegistration rxKick;
    private IoRegistration tapRead;
    /** The tap interest last submitted; null when the tap was just registered. */
    private EpollIoOps tapOps;

    private final VringErrorListener errorListener;
    private int pendingLength;
    /** Why the pair stopped (an fd that failed, an unexpected exception), or null. */
    private String failure;

    private boolean reportedBroken;

    EmulatedQueuePair(
            int index,
            MemoryTable memory,
            QueuePair rings,
            TapQueue tapQueue,
            Features.Negotiated features,
            boolean tapHasHeader,
            TxCopy txCopy,
            IoEventLoop loop,
            VringErrorListener errorListener)
            throws SysException {
        this.errorListener = errorListener;
        this.index = index;
        this.memory = memory;
        this.guest = new GuestCopier(memory);
        this.txIovecs = txCopy == TxCopy.SINGLE
                ? new TxIovecs(memory, rings.tx().layout().size())
                : null;
        this.rx = new DeviceQueue(memory, rings.rx().layout(), features.virtio(), "queue " + 2 * index + " (RX)");
        this.tx = new DeviceQueue(memory, rings.tx().layout(), features.virtio(), "queue " + (2 * index + 1) + " (TX)");
        this.tapName = "tap " + tapQueue.tapName() + " queue " + tapQueue.index();
        try {
            this.tap = hold(tapQueue.fd());
            this.txKickFd = hold(rings.tx().kick().fd());
            this.rxKickFd = hold(rings.rx().kick().fd());
            this.txCallFd = hold(rings.tx().call().fd());
            this.rxCallFd = hold(rings.rx().call().fd());
        } catch (SysException | RuntimeException e) {
            release();
            throw e;
        }
        this.headerSize = features.vnetHeaderSize();
        this.tapHasHeader = tapHasHeader;
        this.mergeable = features.has(VirtioFeature.MRG_RXBUF);
        this.loop = loop;
        this.rxHeads = new int[rings.rx().layout().size()];
        this.rxLengths = new int[rings.rx().layout().size()];
    }

    private FileDescriptor hold(Fd fd) throws SysException {
        Fd dup = fd.dup();
        held.add(dup);
        return new FileDescriptor(dup.get());
    }

    /** Registers the kick eventfds and the tap with the loop, watching nothing yet; on the loop, where it completes at once. */
    void register() {
        txKick = register(txKickFd, "kick eventfd of " + tx.name(), this::onTxKick);
        rxKick = register(rxKickFd, "kick eventfd of " + rx.name(), this::onRxKick);
        tapRead = register(tap, tapName, this::receive);
    }

    private IoRegistration register(FileDescriptor fd, String what, Runnable handler) {
        Future<IoRegistration> f = loop.register(new FdHandle(fd, what, guarded(handler), this::fail));
        if (!f.isSuccess()) {
            throw new IllegalStateException(
                    "queue pair " + index + " could not watch the " + what + ": " + f.cause(), f.cause());
        }
        return f.getNow();
    }

    /**
     * Starts from {@code rxBase}/{@code txBase}, as fresh queues: a queue the driver broke, or a pair
     * an fd failed under, is served again (QEMU's {@code virtio_reset} clears {@code vdev->broken}).
     * Watches the kicks and the tap, and serves what is already posted; on the loop.
     */
    void start(int rxBase, int txBase) {
        failure = null;
        tapOps = null;
        rx.reset();
        tx.reset();
        rx.setNextAvail(rxBase);
        tx.setNextAvail(txBase);
        reportedBroken = false;
        txKick.submit(EpollIoOps.EPOLLIN);
        rxKick.submit(EpollIoOps.EPOLLIN);
        transmit();
        receive();
        reportBroken();
    }

    /** Stops watching; returns {RX base, TX base}; runs on the loop. */
    int[] detach() {
        unregister();
        return new int[] {rx.nextAvail(), tx.nextAvail()};
    }

    /** Stops watching the fds registered so far (all, or those of a start that failed half-way); on the loop. */
    void unregister() {
        for (IoRegistration r : new IoRegistration[] {txKick, rxKick, tapRead}) {
            if (r != null) {
                r.cancel();
            }
        }
    }

    /** Drops a frame read from the tap and not yet delivered (the rings are being handed to another backend). */
    void dropPending() {
        if (pendingLength > 0) {
            counters.rxDropped();
            pendingLength = 0;
        }
    }

    /**
     * Nothing the guest does may escape the loop: an unexpected failure (guest memory closed under
     * a running device, a bug) stops this pair instead of reaching Netty.
     */
    private Runnable guarded(Runnable handler) {
        return () -> {
            if (failure != null) {
                return;
            }
            try {
                handler.run();
            } catch (RuntimeException e) {
                fail(e.toString());
            }
            reportBroken();
        };
    }

    /**
     * Stops watching every fd of this pair, logged once, the reason kept for {@link #failure()}:
     * an fd reporting an error would otherwise wake the loop at every wait.
     */
    private void fail(String reason) {
        if (failure != null) {
            return;
        }
        failure = reason;
        log.warn("queue pair {} stopped: {}; a restart serves it again", index, reason);
        detach();
    }

    /** Why this pair, or one of its queues, stopped: empty while it works; a restart clears it. */
    Optional<String> failure() {
        if (failure != null) {
            return Optional.of(failure);
        }
        for (DeviceQueue q : new DeviceQueue[] {rx, tx}) {
            if (q.isBroken()) {
                return Optional.of(
                        q.name() + " broken by the driver: " + q.brokenReason().orElseThrow());
            }
        }
        return Optional.empty();
    }

    /** Tells the listener, once per start, that the driver broke a vring of this pair (or the pair failed). */
    private void reportBroken() {
        if (reportedBroken || !(failure != null || rx.isBroken() || tx.isBroken())) {
            return;
        }
        reportedBroken = true;
        counters.vringError();
        if (errorListener != null) {
            errorListener.onVringError(index, rx.isBroken() ? QueuePair.RX : QueuePair.TX, 1);
        }
    }

    private void onTxKick() {
        drain(txKickFd);
        transmit();
    }

    /** QEMU's {@code virtio_net_handle_rx}: new buffers, so try the held frame and the tap again. */
    private void onRxKick() {
        drain(rxKickFd);
        receive();
    }

    /**
     * QEMU's {@code virtio_net_flush_tx}: sends what the driver made available, publishing used
     * entries every {@link #TX_FLUSH_BATCH} chains; after {@link #TX_WEIGHT} it kicks its own queue
     * and returns, notifications still off, to go on once the loop has served what else is ready.
     */
    private void transmit() {
        int sent = 0;
        int unpublished = 0;
        do {
            tx.disableNotifications();
            while (tx.popInto(chain)) {
                sendChain();
                sent++;
                if (++unpublished == TX_FLUSH_BATCH) {
                    publishTx();
                    unpublished = 0;
                    if (sent >= TX_WEIGHT) {
                        signal(txKickFd);
                        return;
                    }
                }
            }
            if (unpublished > 0) {
                publishTx();
                unpublished = 0;
            }
        } while (!tx.isBroken() && !tx.enableNotifications());
    }

    private void publishTx() {
        tx.flushUsed();
        if (tx.needsNotification()) {
            signal(txCallFd);
        }
    }

    /**
     * Sends the popped TX chain: its readable bytes are the guest's virtio-net header and the frame;
     * a tap without a vnet header gets the frame alone. A chain the device cannot send (shorter than
     * the header, longer than a GSO frame, with device-writable parts) is refused, counted, and
     * returned as every chain is, with used length 0. A write the tap does not take whole is a drop.
     */
    private void sendChain() {
        long length = chain.readableBytes();
        if (length < headerSize || length > BUFFER || chain.writableCount() > 0) {
            counters.refused();
            counters.txDropped();
            tx.pushUsed(chain.head(), 0);
            return;
        }
        int skip = tapHasHeader ? 0 : headerSize;
        try {
            long written =
                    txIovecs != null && txIovecs.fits(chain) ? txIovecs.write(tap, chain, skip) : writeCopy(skip);
            if (written == length - skip) {
                counters.sent(length - headerSize);
            } else {
                counters.txDropped();
            }
        } catch (IOException e) {
            counters.txDropped();
            log.debug("tap write on pair {}: {}", index, e.getMessage());
        }
        tx.pushUsed(chain.head(), 0);
    }

    /** {@link TxCopy#DOUBLE}: gathers the chain into the TX buffer, then writes it from {@code skip}. */
    private int writeCopy(int skip) throws IOException {
        int to = 0;
        for (int i = 0; i < chain.readableCount(); i++) {
            int part = (int) chain.readableLength(i);
            guest.read(chain.readableGpa(i), txBuffer, to, part);
            to += part;
        }
        return tap.writeAddress(txAddress, skip, to);
    }

    /**
     * Moves frames from the tap into RX buffers until the tap is empty or the driver has no buffer
     * left, then watches the tap only if it may read it: not while the driver has no buffer, nor
     * while the queue is broken (QEMU's {@code virtio_net_can_receive}; frames waiting in the tap
     * would otherwise wake the level-triggered loop at every wait).
     */
    private void receive() {
        boolean delivered = false;
        boolean waitingForBuffers = false;
        while (!rx.isBroken()) {
            if (pendingLength == 0 && !readTap()) {
                break;
            }
            if (!deliver()) {
                if (rx.enableNotifications()) {
                    waitingForBuffers = true;
                    break;
                }
                continue;
            }
            delivered = true;
        }
        if (delivered) {
            rx.flushUsed();
            if (rx.needsNotification()) {
                signal(rxCallFd);
            }
        }
        watchTap(rx.isBroken() || waitingForBuffers ? PAUSED : EpollIoOps.EPOLLIN);
    }

    private void watchTap(EpollIoOps ops) {
        if (!ops.equals(tapOps)) {
            tapRead.submit(ops);
            tapOps = ops;
        }
    }

    private boolean readTap() {
        int offset = tapHasHeader ? 0 : headerSize;
        try {
            int n = tap.readAddress(rxAddress, offset, BUFFER);
            if (n <= 0) {
                return false;
            }
            for (int i = 0; i < offset; i++) {
                rxBuffer.put(i, (byte) 0);
            }
            pendingLength = offset + n;
            return true;
        } catch (IOException e) {
            log.debug("tap read on pair {}: {}", index, e.getMessage());
            return false;
        }
    }

    /**
     * Scatters the pending frame into one posted RX chain, or several with {@code MRG_RXBUF}
     * (setting {@code num_buffers}); returns false, giving the chains back, when the driver has not
     * posted enough yet. A chain the device cannot fill (device-readable parts, a first buffer
     * shorter than the header, or too small without {@code MRG_RXBUF}) is returned empty and the
     * frame dropped, counted.
     */
    private boolean deliver() {
        int chains = 0;
        long copied = 0;
        long numBuffersGpa = 0;
        while (copied < pendingLength) {
            if (chains == rxHeads.length || !rx.popInto(chain)) {
                if (chains == rxHeads.length) {
                    return dropFrame(chains);
                }
                rx.rewind(chains);
                return false;
            }
            rxHeads[chains] = chain.head();
            if (chain.readableCount() > 0
                    || chain.writableCount() == 0
                    || (chains == 0 && chain.writableLength(0) < headerSize)
                    || (!mergeable && chain.writableBytes() < pendingLength)) {
                return dropFrame(chains + 1);
            }
            if (chains == 0) {
                numBuffersGpa = chain.writableGpa(0) + VirtioUapi.VIRTIO_NET_HDR_NUM_BUFFERS;
            }
            int filled = 0;
            for (int i = 0; i < chain.writableCount() && copied < pendingLength; i++) {
                int part = (int) Math.min(pendingLength - copied, chain.writableLength(i));
                guest.write(rxBuffer, (int) copied, chain.writableGpa(i), part);
                copied += part;
                filled += part;
            }
            rxLengths[chains++] = filled;
        }
        if (mergeable) {
            LittleEndian.putU16(memory, numBuffersGpa, chains);
        }
        for (int c = 0; c < chains; c++) {
            rx.pushUsed(rxHeads[c], rxLengths[c]);
        }
        counters.received(pendingLength - headerSize);
        pendingLength = 0;
        return true;
    }

    private boolean dropFrame(int chains) {
        for (int c = 0; c < chains; c++) {
            rx.pushUsed(rxHeads[c], 0);
        }
        counters.refused();
        counters.rxDropped();
        pendingLength = 0;
        return true;
    }

    private void drain(FileDescriptor eventfd) {
        try {
            eventfd.read(eventfdWord, 0, 8);
        } catch (IOException e) {
            log.debug("kick eventfd read: {}", e.getMessage());
        }
    }

    private void signal(FileDescriptor eventfd) {
        eventfdWord.putLong(0, 1L);
        try {
            eventfd.write(eventfdWord, 0, 8);
        } catch (IOException e) {
            log.debug("call eventfd write: {}", e.getMessage());
        }
    }

    DeviceQueue rxQueue() {
        return rx;
    }

    DeviceQueue txQueue() {
        return tx;
    }

    /** Frames dropped either way. */
    long dropped() {
        return counters.dropped();
    }

    /** This pair's counters now; from any thread. */
    NetDeviceCounters.Pair counters() {
        return counters.snapshot(rx.counters().violations() + tx.counters().violations());
    }

    /** Closes the descriptors this pair holds; after the loop stopped watching them. */
    void release() {
        held.forEach(Fd::close);
    }
}
