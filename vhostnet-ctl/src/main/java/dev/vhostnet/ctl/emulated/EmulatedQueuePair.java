package dev.vhostnet.ctl.emulated;

import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.QueuePair;
import dev.vhostnet.ctl.vhost.VringErrorListener;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.ctl.device.DescriptorChain;
import dev.vhostnet.ctl.device.DeviceQueue;
import dev.vhostnet.memtable.MemoryTable;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One virtio-net queue pair served in this process on one Netty epoll event loop, as QEMU's
 * virtio-net does without vhost: TX pops a chain, gathers it out of guest memory into a direct
 * buffer (copy 1) and writes it to the tap (copy 2, in the kernel); RX reads the tap into the
 * buffer (copy 1) and scatters it into posted RX buffers (copy 2). With no RX buffer posted it
 * stops reading the tap and holds the frame it has until the driver kicks the RX queue: nothing is
 * read and dropped. Everything here runs on the loop's thread; steady state allocates nothing.
 */
final class EmulatedQueuePair {
    private static final Logger log = LoggerFactory.getLogger(EmulatedQueuePair.class);
    /** Largest frame: a 64 KiB GSO frame plus the 12-byte header. */
    static final int BUFFER = 65550 + VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE;

    /**
     * The tap's interest while the driver has no RX buffer: errors only. (Netty removes a handle
     * submitting {@code NONE} from the epoll set, and a later {@code EPOLLIN} then fails.)
     */
    private static final EpollIoOps PAUSED = EpollIoOps.EPOLLERR;

    private final int index;
    private final MemoryTable memory;
    private final QueuePair rings;
    private final DeviceQueue rx;
    private final DeviceQueue tx;
    private final FileDescriptor tap;
    private final FileDescriptor txKickFd;
    private final FileDescriptor rxKickFd;
    private final FileDescriptor txCallFd;
    private final FileDescriptor rxCallFd;
    private final int headerSize;
    private final boolean tapHasHeader;
    private final boolean mergeable;
    private final IoEventLoop loop;
    private final ByteBuf txBuffer;
    private final ByteBuf rxBuffer;
    private final ByteBuf eventfdWord;
    private final DescriptorChain chain = new DescriptorChain();
    private final int[] rxHeads;
    private final int[] rxLengths;
    private final AtomicLong rxDropped = new AtomicLong();
    private final AtomicLong txDropped = new AtomicLong();
    private IoRegistration txKick;
    private IoRegistration rxKick;
    private IoRegistration tapRead;
    private final VringErrorListener errorListener;
    private int pendingLength;
    private boolean failed;
    private boolean reportedBroken;

    EmulatedQueuePair(int index, MemoryTable memory, QueuePair rings, int tapFd, Features.Negotiated features,
            boolean tapHasHeader, IoEventLoop loop, VringErrorListener errorListener) {
        this.index = index;
        this.errorListener = errorListener;
        this.memory = memory;
        this.rings = rings;
        this.rx = new DeviceQueue(memory, rings.rx().layout(), features.virtio(), "queue " + 2 * index + " (RX)");
        this.tx = new DeviceQueue(memory, rings.tx().layout(), features.virtio(), "queue " + (2 * index + 1) + " (TX)");
        this.tap = new FileDescriptor(tapFd);
        this.txKickFd = new FileDescriptor(rings.tx().kick().fd().get());
        this.rxKickFd = new FileDescriptor(rings.rx().kick().fd().get());
        this.txCallFd = new FileDescriptor(rings.tx().call().fd().get());
        this.rxCallFd = new FileDescriptor(rings.rx().call().fd().get());
        this.headerSize = features.vnetHeaderSize();
        this.tapHasHeader = tapHasHeader;
        this.mergeable = features.has(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF);
        this.loop = loop;
        this.txBuffer = PooledByteBufAllocator.DEFAULT.directBuffer(BUFFER, BUFFER);
        this.rxBuffer = PooledByteBufAllocator.DEFAULT.directBuffer(BUFFER, BUFFER);
        this.eventfdWord = PooledByteBufAllocator.DEFAULT.directBuffer(8, 8);
        this.rxHeads = new int[rings.rx().layout().size()];
        this.rxLengths = new int[rings.rx().layout().size()];
    }

    /** Registers the kick eventfds and the tap with the loop, watching nothing yet; called off the loop. */
    void register() throws InterruptedException, ExecutionException {
        txKick = loop.register(new FdHandle(txKickFd, guarded(this::onTxKick))).get();
        rxKick = loop.register(new FdHandle(rxKickFd, guarded(this::onRxKick))).get();
        tapRead = loop.register(new FdHandle(tap, guarded(this::receive))).get();
    }

    /** Starts from {@code rxBase}/{@code txBase}: watches the kicks and the tap, and serves what is already posted; on the loop. */
    void start(int rxBase, int txBase) {
        rx.setNextAvail(rxBase);
        tx.setNextAvail(txBase);
        reportedBroken = false;
        txKick.submit(EpollIoOps.EPOLLIN);
        rxKick.submit(EpollIoOps.EPOLLIN);
        tapRead.submit(EpollIoOps.EPOLLIN);
        transmit();
        receive();
        reportBroken();
    }

    /** Stops watching; returns {RX base, TX base}; runs on the loop. */
    int[] detach() {
        txKick.cancel();
        rxKick.cancel();
        tapRead.cancel();
        return new int[] {rx.nextAvail(), tx.nextAvail()};
    }

    /** Drops a frame read from the tap and not yet delivered (the rings are being handed to another backend). */
    void dropPending() {
        if (pendingLength > 0) {
            rxDropped.incrementAndGet();
            pendingLength = 0;
        }
    }

    /**
     * Nothing the guest does may escape the loop: an unexpected failure (guest memory closed under
     * a running device, a bug) stops this pair, logged once, instead of reaching Netty.
     */
    private Runnable guarded(Runnable handler) {
        return () -> {
            if (failed) {
                return;
            }
            try {
                handler.run();
            } catch (RuntimeException e) {
                failed = true;
                log.warn("queue pair {} stopped: {}", index, e.toString());
                detach();
            }
            reportBroken();
        };
    }

    /** Tells the listener, once per start, that the driver broke a vring of this pair (or the pair failed). */
    private void reportBroken() {
        if (reportedBroken || errorListener == null || !(failed || rx.isBroken() || tx.isBroken())) {
            return;
        }
        reportedBroken = true;
        errorListener.onVringError(index, rx.isBroken() ? QueuePair.RX : QueuePair.TX, 1);
    }

    private void onTxKick() {
        drain(txKickFd);
        transmit();
    }

    private void onRxKick() {
        drain(rxKickFd);
        tapRead.submit(EpollIoOps.EPOLLIN);
        receive();
    }

    private void transmit() {
        do {
            tx.disableNotifications();
            while (tx.popInto(chain)) {
                sendChain();
            }
            tx.flushUsed();
            if (tx.needsNotification()) {
                signal(txCallFd);
            }
        } while (!tx.isBroken() && !tx.enableNotifications());
    }

    private void sendChain() {
        long length = chain.readableBytes();
        if (length < headerSize || length > BUFFER || chain.writableCount() > 0) {
            txDropped.incrementAndGet();
            tx.pushUsed(chain.head(), 0);
            return;
        }
        long to = txBuffer.memoryAddress();
        for (int i = 0; i < chain.readableCount(); i++) {
            long part = chain.readableLength(i);
            PlatformDependent.copyMemory(memory.translate(chain.readableGpa(i), part), to, part);
            to += part;
        }
        int skip = tapHasHeader ? 0 : headerSize;
        try {
            tap.writeAddress(txBuffer.memoryAddress(), skip, (int) length);
        } catch (IOException e) {
            txDropped.incrementAndGet();
            log.debug("tap write on pair {}: {}", index, e.getMessage());
        }
        tx.pushUsed(chain.head(), 0);
    }

    /** Moves frames from the tap into RX buffers until the tap is empty or the driver has no buffer left. */
    private void receive() {
        boolean delivered = false;
        while (!rx.isBroken()) {
            if (pendingLength == 0 && !readTap()) {
                break;
            }
            if (!deliver()) {
                tapRead.submit(PAUSED);
                if (!rx.enableNotifications()) {
                    tapRead.submit(EpollIoOps.EPOLLIN);
                    continue;
                }
                break;
            }
            delivered = true;
        }
        if (delivered) {
            rx.flushUsed();
            if (rx.needsNotification()) {
                signal(rxCallFd);
            }
        }
    }

    private boolean readTap() {
        int offset = tapHasHeader ? 0 : headerSize;
        try {
            int n = tap.readAddress(rxBuffer.memoryAddress(), offset, BUFFER);
            if (n <= 0) {
                return false;
            }
            if (!tapHasHeader) {
                PlatformDependent.setMemory(rxBuffer.memoryAddress(), headerSize, (byte) 0);
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
        long from = rxBuffer.memoryAddress();
        while (copied < pendingLength) {
            if (chains == rxHeads.length || !rx.popInto(chain)) {
                if (chains == rxHeads.length) {
                    return dropFrame(chains);
                }
                rx.rewind(chains);
                return false;
            }
            rxHeads[chains] = chain.head();
            if (chain.readableCount() > 0 || chain.writableCount() == 0
                    || (chains == 0 && chain.writableLength(0) < headerSize)
                    || (!mergeable && chain.writableBytes() < pendingLength)) {
                return dropFrame(chains + 1);
            }
            if (chains == 0) {
                numBuffersGpa = chain.writableGpa(0) + VirtioUapi.VIRTIO_NET_HDR_NUM_BUFFERS;
            }
            int filled = 0;
            for (int i = 0; i < chain.writableCount() && copied < pendingLength; i++) {
                long part = Math.min(pendingLength - copied, chain.writableLength(i));
                PlatformDependent.copyMemory(from + copied, memory.translate(chain.writableGpa(i), part), part);
                copied += part;
                filled += (int) part;
            }
            rxLengths[chains++] = filled;
        }
        if (mergeable) {
            memory.putShort(numBuffersGpa, (short) chains);
        }
        for (int c = 0; c < chains; c++) {
            rx.pushUsed(rxHeads[c], rxLengths[c]);
        }
        pendingLength = 0;
        return true;
    }

    private boolean dropFrame(int chains) {
        for (int c = 0; c < chains; c++) {
            rx.pushUsed(rxHeads[c], 0);
        }
        rxDropped.incrementAndGet();
        pendingLength = 0;
        return true;
    }

    private void drain(FileDescriptor eventfd) {
        try {
            eventfd.readAddress(eventfdWord.memoryAddress(), 0, 8);
        } catch (IOException e) {
            log.debug("kick eventfd read: {}", e.getMessage());
        }
    }

    private void signal(FileDescriptor eventfd) {
        PlatformDependent.putLong(eventfdWord.memoryAddress(), 1L);
        try {
            eventfd.writeAddress(eventfdWord.memoryAddress(), 0, 8);
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

    long rxDropped() {
        return rxDropped.get();
    }

    long txDropped() {
        return txDropped.get();
    }

    void release() {
        txBuffer.release();
        rxBuffer.release();
        eventfdWord.release();
    }
}
