package dev.vhostnet.bench;

/** Where a TX repetition counts the frames delivered. */
public enum TxCount {
    /**
     * The UDP sink in the namespace, datagram by datagram, with at most a window of frames in flight
     * against its count: nothing is lost, and the bytes delivered are exactly what was sent (the
     * default; the byte-exact check).
     */
    SINK,
    /**
     * The tap's own {@code rx_packets}, as the tun driver takes each frame from the device, with no
     * window, the frames addressed to no interface ({@code BenchNet.ELSEWHERE_MAC}), which the stack
     * drops once the tap has counted them: only the ring holds the sender back, so the sink's pace
     * is not what is measured.
     */
    TAP
}
