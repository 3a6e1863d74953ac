package dev.vhostnet.virtio;

import java.util.ArrayList;
import java.util.List;

/**
 * A virtio device for transport tests: two queues (256 and 64), an 8-byte configuration space
 * (6 read-only MAC-like bytes, a 2-byte writable field), features {@link #F_BASE} and
 * {@link #F_NEEDS_BASE}, the second of which it cannot serve without the first. It records what
 * the transport told it.
 */
final class FakeDevice implements VirtioDevice {
    static final int TYPE = 1;
    static final long F_BASE = 1L << 5;
    static final long F_NEEDS_BASE = 1L << 0;

    final byte[] config = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0};
    final List<List<QueueConfig>> activations = new ArrayList<>();
    final List<Long> acked = new ArrayList<>();
    Notifiers notifiers;
    int resets;
    boolean failActivation;

    @Override
    public int deviceType() {
        return TYPE;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize(int queue) {
        return queue == 0 ? 256 : 64;
    }

    @Override
    public long deviceFeatures() {
        return F_BASE | F_NEEDS_BASE;
    }

    @Override
    public boolean featuresOk(long features) {
        return (features & F_NEEDS_BASE) == 0 || (features & F_BASE) != 0;
    }

    @Override
    public void ackFeatures(long features) {
        acked.add(features);
    }

    @Override
    public int configSize() {
        return config.length;
    }

    @Override
    public void readConfig(int offset, byte[] data) {
        System.arraycopy(config, offset, data, 0, data.length);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            if (offset + i >= 6) {
                config[offset + i] = data[i];
            }
        }
    }

    @Override
    public void activate(List<QueueConfig> queues, Notifiers notifiers) {
        if (failActivation) {
            throw new IllegalStateException("backend refused");
        }
        activations.add(queues);
        this.notifiers = notifiers;
    }

    @Override
    public void reset() {
        resets++;
    }
}
