package dev.vhostnet.bench;

import dev.vhostnet.driver.VirtioNetHeader;

/**
 * The guest end of one queue pair as the workloads see it: the project's virtio-net driver over a
 * device, or a raw tap queue. One thread at a time.
 */
interface GuestPort {
    /** The frame and header {@link #send} sends from now on. */
    void prepare(byte[] frame, VirtioNetHeader hdr);

    /** Queues up to {@code n} copies of the prepared frame; returns how many it queued. */
    int send(int n) throws Exception;

    /** Publishes what {@link #send} queued. */
    void flush() throws Exception;

    /** The length of the next received Ethernet frame, or -1 when none is waiting. */
    int receive() throws Exception;

    /**
     * Waits up to a millisecond for {@code frames} frames to arrive; a port that cannot be told a
     * count (a raw tap) wakes at the first.
     */
    void awaitReceive(int frames) throws Exception;
}
