package dev.vhostnet.driver;

import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.Features;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.VirtioUapi;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A test-only virtio-net device that sends every transmitted frame back: pops TX chains (following
 * indirect tables), copies header and frame out, and writes them into RX buffers, spread over
 * {@code num_buffers} buffers with {@code MRG_RXBUF}, or into one buffer (dropping a frame that does
 * not fit, as vhost-net does) without. Frames wait while no RX buffers are posted.
 */
final class LoopbackDevice {
    final SpecDeviceQueue rx;
    final SpecDeviceQueue tx;
    private final int headerSize;
    private final boolean mergeable;
    private final Deque<byte[]> waiting = new ArrayDeque<>();
    private int dropped;

    LoopbackDevice(MemoryTable memory, DriverMemory.QueuePair pair, FeatureSet features) {
        this.rx = new SpecDeviceQueue(memory, pair.rx(), features);
        this.tx = new SpecDeviceQueue(memory, pair.tx(), features);
        this.headerSize = Features.vnetHeaderSize(features);
        this.mergeable = features.has(VirtioFeature.MRG_RXBUF);
    }

    /** Takes every transmitted frame, then delivers what RX buffers allow; returns the frames delivered. */
    int run() {
        for (SpecDeviceQueue.Chain c = tx.pop(); c != null; c = tx.pop()) {
            waiting.add(tx.readAll(c));
            tx.pushUsed(c.head(), 0);
        }
        int delivered = 0;
        while (!waiting.isEmpty() && deliver(waiting.peek())) {
            waiting.poll();
            delivered++;
        }
        return delivered;
    }

    private boolean deliver(byte[] packet) {
        List<SpecDeviceQueue.Chain> chains = new ArrayList<>();
        int room = 0;
        while (room < packet.length && (mergeable || chains.isEmpty())) {
            SpecDeviceQueue.Chain c = rx.pop();
            if (c == null) {
                rx.unpop(chains.size());
                return false;
            }
            chains.add(c);
            room += c.writableBytes();
        }
        if (room < packet.length) {
            rx.unpop(chains.size());
            dropped++;
            return true;
        }
        byte[] out = packet.clone();
        if (headerSize == VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE) {
            out[VirtioUapi.VIRTIO_NET_HDR_NUM_BUFFERS] = (byte) chains.size();
            out[VirtioUapi.VIRTIO_NET_HDR_NUM_BUFFERS + 1] = (byte) (chains.size() >> 8);
        }
        int at = 0;
        for (int i = 0; i < chains.size(); i++) {
            int n = rx.writeAll(chains.get(i), out, at, out.length - at);
            rx.addUsed(chains.get(i).head(), n, i);
            at += n;
        }
        rx.publishUsed(chains.size());
        return true;
    }

    /** Frames too large for one RX buffer without {@code MRG_RXBUF}. */
    int dropped() {
        return dropped;
    }

    int waiting() {
        return waiting.size();
    }
}
