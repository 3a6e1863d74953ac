package dev.vhostnet.ctl.device;

/**
 * One rule a driver broke in a split virtqueue. Each has its own counter in {@link QueueCounters}
 * (named by {@link #counterName()}); the first one seen marks the queue broken, as QEMU's
 * {@code virtio_error} sets {@code VIRTIO_CONFIG_S_NEEDS_RESET}.
 */
public enum Violation {
    /** {@code avail->idx} moved more than the ring size past the next head to pop (QEMU: "Guest moved used index"). */
    AVAIL_IDX_JUMP("availIdxJump", "the available index moved more than the ring size ahead"),
    /** More chains popped and not yet returned than the ring has entries (QEMU: "Virtqueue size exceeded"). */
    IN_FLIGHT_EXCEEDS_SIZE("inFlightExceedsSize", "more chains in flight than the ring size"),
    /** An available ring entry names a head descriptor past the table (QEMU: "Guest says index %u is available"). */
    HEAD_OUT_OF_RANGE("headOutOfRange", "head descriptor index past the descriptor table"),
    /** A {@code next} field past the table it chains in (QEMU: "Desc next is %u"). */
    NEXT_OUT_OF_RANGE("nextOutOfRange", "next descriptor index past its table"),
    /** More descriptors in a chain than its table has entries: a loop (QEMU: "Looped descriptor"; Firecracker's TTL). */
    CHAIN_TOO_LONG("chainTooLong", "chain longer than its table: a descriptor loop"),
    /** A buffer of length 0 (QEMU: "zero sized buffers are not allowed"). */
    ZERO_LENGTH("zeroLengthBuffer", "buffer of length zero"),
    /** {@code addr + len} wraps around 2^64. */
    ADDRESS_WRAPS("addressWraps", "buffer address plus length wraps around 2^64"),
    /** A buffer that starts outside every region of guest memory. */
    OUTSIDE_MEMORY("outsideMemory", "buffer starts outside guest memory"),
    /** A buffer that starts inside a region and runs past its end. */
    CROSSES_REGION_END("crossesRegionEnd", "buffer crosses the end of a guest memory region"),
    /** {@code VRING_DESC_F_INDIRECT} without {@code VIRTIO_RING_F_INDIRECT_DESC} negotiated. */
    INDIRECT_NOT_NEGOTIATED("indirectNotNegotiated", "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC"),
    /** {@code INDIRECT} and {@code NEXT} in the same descriptor (the spec forbids it). */
    INDIRECT_WITH_NEXT("indirectWithNext", "descriptor has both INDIRECT and NEXT"),
    /** {@code INDIRECT} on a descriptor that is not a chain's head (QEMU would read the table as data). */
    INDIRECT_NOT_AT_HEAD("indirectNotAtHead", "indirect descriptor that is not the head of its chain"),
    /** An indirect table of length 0 (QEMU: "Invalid size for indirect buffer table"). */
    INDIRECT_EMPTY("indirectEmpty", "indirect table of length zero"),
    /** An indirect table whose length is not a multiple of 16 (QEMU: likewise). */
    INDIRECT_LENGTH_NOT_MULTIPLE("indirectLengthNotMultiple", "indirect table length not a multiple of 16"),
    /** An indirect table with more entries than the ring size (a chain may not be longer than the queue). */
    INDIRECT_TOO_LARGE("indirectTooLarge", "indirect table with more entries than the ring size"),
    /** An indirect table not wholly inside one region of guest memory (QEMU: "Cannot map indirect buffer"). */
    INDIRECT_OUTSIDE_MEMORY("indirectOutsideMemory", "indirect table not inside one guest memory region"),
    /** {@code INDIRECT} inside an indirect table (the spec forbids it). */
    NESTED_INDIRECT("nestedIndirect", "indirect descriptor inside an indirect table"),
    /** A device-readable buffer after a device-writable one (QEMU: "Incorrect order for descriptors"). */
    READABLE_AFTER_WRITABLE("readableAfterWritable", "device-readable buffer after a device-writable one"),
    /** The chain's total length does not fit the used ring's 32-bit length. */
    TOTAL_LENGTH_OVERFLOW("totalLengthOverflow", "chain's total length overflows 32 bits");

    private final String counterName;
    private final String description;

    Violation(String counterName, String description) {
        this.counterName = counterName;
        this.description = description;
    }

    /** The counter's name in metrics and the CLI. */
    public String counterName() {
        return counterName;
    }

    public String description() {
        return description;
    }
}
