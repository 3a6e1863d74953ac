package dev.vhostnet.driver;

/**
 * A snapshot of a {@link VirtioNetDriver}'s counters. {@code txFull}: transmits refused for want
 * of buffers or descriptors; {@code rxErrors}: received frames dropped because the device reported
 * a bad length or buffer count; {@code kicks}: kick eventfd signals.
 */
public record DriverCounters(
        long txFrames, long txBytes, long rxFrames, long rxBytes, long txFull, long rxErrors, long kicks) {}
