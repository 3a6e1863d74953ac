package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CTRL_HDR_CLASS;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CTRL_HDR_CMD;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CTRL_HDR_SIZE;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_ERR;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.device.DescriptorChain;
import dev.vhostnet.ctl.device.DeviceQueue;
import dev.vhostnet.ctl.ring.VringLayout;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.PollUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.virtionet.VirtioNetCounters.Refusal;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control virtqueue, served in this process whatever the backend — as QEMU serves it even with
 * vhost-net ({@code virtio_net_handle_ctrl}). A thread waits on the queue's kick eventfd; each chain
 * is popped through {@link DeviceQueue} (every index, address, length and indirect table checked
 * there), its header and payload gathered from the device-readable part, the command run by
 * {@link ControlCommands}, the one-byte reply written at the start of the device-writable part, the
 * chain returned with used length 1, and the driver called when it asked to be.
 *
 * <p>A chain without a header to read or a byte to write is returned with used length 0 and breaks
 * the queue (QEMU's {@code virtio_error}: "missing headers"), as does a chain the ring checks
 * refuse; {@code onBroken} is then told once, and the device asks for a reset.
 */
final class ControlQueue implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControlQueue.class);
    /** Longer than any command (a MAC table of 64 KiB holds over 10,000 addresses). */
    static final int MAX_COMMAND = 65536;

    private final DeviceQueue queue;
    private final EventFd kick;
    private final EventFd call;
    private final EventFd wakeup;
    private final ControlCommands commands;
    private final VirtioNetCounters counters;
    private final Runnable onBroken;
    private final DescriptorChain chain = new DescriptorChain();
    private final byte[] buffer = new byte[MAX_COMMAND];
    private final byte[] reply = new byte[1];
    private final Thread thread;
    private volatile boolean closed;
    private boolean broken;

    /**
     * A control queue over {@code layout} (checked inside {@code memory} by {@link DeviceQueue}),
     * kicked through {@code kick}, calling through {@code call}; not yet started.
     */
    ControlQueue(
            MemoryTable memory,
            VringLayout layout,
            long features,
            int index,
            EventFd kick,
            EventFd call,
            ControlCommands commands,
            VirtioNetCounters counters,
            Runnable onBroken)
            throws SysException {
        this.queue = new DeviceQueue(memory, layout, FeatureSet.of(features), "queue " + index + " (control)");
        this.kick = kick;
        this.call = call;
        this.commands = commands;
        this.counters = counters;
        this.onBroken = onBroken;
        this.wakeup = EventFd.create();
        this.thread = new Thread(this::run, "virtio-net-ctrl-" + index);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        List<Fd> fds = List.of(kick.fd(), wakeup.fd());
        try {
            serve();
            while (!closed && !broken) {
                int[] ready = Fd.pollAll(fds, PollUapi.POLLIN, -1);
                if (closed) {
                    return;
                }
                if (ready[0] != 0) {
                    kick.read();
                    serve();
                }
            }
        } catch (SysException | RuntimeException e) {
            if (!closed) {
                log.warn("{}: stopped: {}", queue.name(), e.toString());
                counters.count(Refusal.CTRL_BROKEN_RING, queue.name() + ": " + e);
                breakQueue();
            }
        }
    }

    /** Serves what the driver made available until the ring is empty with notifications on (QEMU's loop in {@code virtio_net_handle_ctrl}). */
    private void serve() throws SysException {
        do {
            queue.disableNotifications();
            while (!closed && !broken && queue.popInto(chain)) {
                handle();
            }
            queue.flushUsed();
            if (queue.needsNotification()) {
                call.signal();
            }
            if (queue.isBroken() && !broken) {
                counters.count(Refusal.CTRL_BROKEN_RING, queue.brokenReason().orElse(queue.name()));
                breakQueue();
            }
        } while (!closed && !broken && !queue.enableNotifications());
    }

    private void handle() {
        long readable = chain.readableBytes();
        if (readable < VIRTIO_NET_CTRL_HDR_SIZE || chain.writableBytes() < reply.length) {
            counters.count(
                    Refusal.CTRL_MISSING_HEADERS,
                    queue.name() + ": chain " + chain.head() + " has " + readable + " bytes to read and "
                            + chain.writableBytes() + " to write");
            queue.pushUsed(chain.head(), 0);
            breakQueue();
            return;
        }
        int status;
        if (readable > MAX_COMMAND) {
            counters.count(Refusal.CTRL_TOO_LONG, queue.name() + ": a " + readable + "-byte command");
            status = VIRTIO_NET_ERR;
        } else {
            int length = chain.read(0, buffer, 0, (int) readable);
            status = commands.execute(
                    buffer[VIRTIO_NET_CTRL_HDR_CLASS] & 0xff,
                    buffer[VIRTIO_NET_CTRL_HDR_CMD] & 0xff,
                    buffer,
                    VIRTIO_NET_CTRL_HDR_SIZE,
                    length - VIRTIO_NET_CTRL_HDR_SIZE);
        }
        reply[0] = (byte) status;
        chain.write(0, reply, 0, reply.length);
        queue.pushUsed(chain.head(), reply.length);
    }

    private void breakQueue() {
        if (!broken) {
            broken = true;
            onBroken.run();
        }
    }

    /** Counters of the ring rules ({@link DeviceQueue#counters()}). */
    DeviceQueue queue() {
        return queue;
    }

    /** Stops the thread and waits for it: after this the queue's guest memory is not touched. */
    @Override
    public void close() {
        closed = true;
        try {
            wakeup.signal();
            if (thread.isAlive() && thread != Thread.currentThread()) {
                thread.join();
            }
        } catch (SysException e) {
            log.warn("{}: waking the control thread: {}", queue.name(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            wakeup.close();
        }
    }
}
