package dev.vhostnet.ctl.ring;

/** A chain the device has finished with: the token it was added with and the bytes the device wrote. */
public record Used<T>(T token, int len) {}
