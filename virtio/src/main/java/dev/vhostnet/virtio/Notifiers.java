package dev.vhostnet.virtio;

import dev.vhostnet.eventfd.EventFd;

/**
 * What an active device signals and is signalled through. The eventfds are the transport's and
 * live as long as it does; a kernel (vhost) backend hands them to {@code VHOST_SET_VRING_KICK} and
 * {@code _CALL}, an emulated one polls the kicks and signals the calls itself. Where the call fd
 * goes (a KVM irqfd, or this process while the guest masks the vector) is the transport's affair.
 */
public interface Notifiers {
    /** QEMU's host notifier: signalled when the driver notifies {@code queue} (a KVM ioeventfd). */
    EventFd kick(int queue);

    /** QEMU's guest notifier: signal it to interrupt the driver for {@code queue}. */
    EventFd call(int queue);

    /** The device configuration changed: a new config generation and a configuration interrupt. */
    void signalConfigChange();

    /** The device cannot go on: sets {@code DEVICE_NEEDS_RESET} and raises a configuration interrupt. */
    void requestReset();
}
