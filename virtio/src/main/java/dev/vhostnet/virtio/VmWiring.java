package dev.vhostnet.virtio;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.eventfd.IoAddress;
import dev.vhostnet.sys.SysException;
import java.util.OptionalLong;

/**
 * What a transport asks of the VM to keep the hot path out of this process: doorbell writes as
 * ioeventfds, interrupts as irqfds, and MSI routes for the GSIs its MSI-X vectors use.
 * {@link KvmWiring} is the KVM implementation; tests give a fake.
 */
public interface VmWiring {
    /** {@code KVM_IOEVENTFD}: a guest write at {@code at} (matching {@code datamatch}, when given) signals {@code fd}. */
    Binding ioeventfd(EventFd fd, IoAddress at, OptionalLong datamatch) throws SysException;

    /** {@code KVM_IRQFD}: signalling {@code fd} injects {@code gsi}. */
    Binding irqfd(EventFd fd, int gsi) throws SysException;

    /** Routes {@code gsi} to the MSI message {@code address}/{@code data} ({@code KVM_SET_GSI_ROUTING}). */
    void routeMsi(int gsi, long address, int data) throws SysException;

    /** An ioeventfd or irqfd; closing it deassigns it. */
    interface Binding extends AutoCloseable {
        @Override
        void close() throws SysException;
    }
}
