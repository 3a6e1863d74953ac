package dev.vhostnet.virtio;

/** One virtqueue's registers as the driver writes them, before {@link QueueConfig} has checked them. */
final class QueueRegisters {
    final int index;
    final int maxSize;
    int size;
    long descTable;
    long availRing;
    long usedRing;
    int vector;
    /** Set once the driver enabled the queue and the registers passed the checks. */
    QueueConfig enabled;

    QueueRegisters(int index, int maxSize) {
        this.index = index;
        this.maxSize = maxSize;
        reset();
    }

    /** The state after a device reset: size reads as the maximum (virtio-pci), nothing enabled, no vector. */
    void reset() {
        size = maxSize;
        descTable = 0;
        availRing = 0;
        usedRing = 0;
        vector = QueueConfig.NO_VECTOR;
        enabled = null;
    }

    /**
     * Writes one 32-bit half of a ring address: {@code part} 0 the descriptor table, 1 the driver
     * (available) ring, 2 the device (used) ring — the order both transports lay them out in.
     */
    void setAddressWord(int part, boolean high, long word) {
        switch (part) {
            case 0 -> descTable = high ? setHigh(descTable, word) : setLow(descTable, word);
            case 1 -> availRing = high ? setHigh(availRing, word) : setLow(availRing, word);
            default -> usedRing = high ? setHigh(usedRing, word) : setLow(usedRing, word);
        }
    }

    static long setLow(long value, long low) {
        return (value & 0xffff_ffff_0000_0000L) | (low & 0xffff_ffffL);
    }

    static long setHigh(long value, long high) {
        return (value & 0xffff_ffffL) | (high << 32);
    }
}
