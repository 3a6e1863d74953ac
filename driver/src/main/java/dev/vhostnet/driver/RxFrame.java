package dev.vhostnet.driver;

/** A received frame and the header the device put in front of it. */
public record RxFrame(VirtioNetHeader hdr, byte[] frame) {}
