package dev.vhostnet.bench;

/** What a cell measures. */
public enum Direction {
    /** Guest to host: the driver sends, a UDP sink in the namespace behind the tap counts. */
    TX,
    /** Host to guest: a UDP source in the namespace sends to the guest, the driver receives. */
    RX,
    /** Request/response: one datagram to an echo in the namespace and back, one at a time, each timed. */
    RR
}
