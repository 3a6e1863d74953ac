package dev.vhostnet.virtio;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.IoAddress;
import java.util.OptionalLong;

/**
 * One queue's notification address as a VMM registers it with {@code KVM_IOEVENTFD}: a guest
 * write at {@code at} matching {@code datamatch} signals {@code kick} without an exit.
 */
public record Doorbell(int queue, IoAddress at, OptionalLong datamatch, EventFd kick) {}
