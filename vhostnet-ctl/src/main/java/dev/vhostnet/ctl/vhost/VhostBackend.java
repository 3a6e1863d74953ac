package dev.vhostnet.ctl.vhost;

import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;

/**
 * The vhost control plane of one queue pair, one method per request of {@code <linux/vhost.h>}
 * (rust-vmm's {@code VhostBackend}, QEMU's {@code VhostOps}). The kernel's vhost-net is one
 * transport ({@link VhostNet}); vhost-user can be another, and tests use a recording fake.
 */
public interface VhostBackend extends AutoCloseable {
    /** {@code VHOST_SET_OWNER}. */
    void setOwner() throws SysException;

    /** {@code VHOST_RESET_OWNER}: back to the state after open. */
    void resetOwner() throws SysException;

    /** {@code VHOST_GET_FEATURES}. */
    long getFeatures() throws SysException;

    /** {@code VHOST_SET_FEATURES}: only bits {@link #getFeatures()} offered. */
    void setFeatures(long features) throws SysException;

    /** {@code VHOST_GET_BACKEND_FEATURES}. */
    long getBackendFeatures() throws SysException;

    /** {@code VHOST_SET_BACKEND_FEATURES}. */
    void setBackendFeatures(long features) throws SysException;

    /** {@code VHOST_SET_MEM_TABLE} with every region of {@code memory}. */
    void setMemTable(MemoryTable memory) throws SysException;

    /** {@code VHOST_SET_LOG_BASE}: the address, in this process, of the dirty page bitmap. */
    void setLogBase(long address) throws SysException;

    /** {@code VHOST_SET_LOG_FD}: the eventfd signalled when the log is written ({@code null}: none). */
    void setLogFd(EventFd fd) throws SysException;

    /** {@code VHOST_SET_VRING_NUM}. */
    void setVringNum(int index, int num) throws SysException;

    /**
     * {@code VHOST_SET_VRING_ADDR}: the ring's parts as addresses of this process, and, when
     * {@code log} is set, the guest-physical address of the used ring for the dirty log.
     */
    void setVringAddr(int index, long descAddress, long usedAddress, long availAddress, boolean log, long logGuestAddress)
            throws SysException;

    /** {@code VHOST_SET_VRING_BASE}: the next available index the device will read. */
    void setVringBase(int index, int base) throws SysException;

    /** {@code VHOST_GET_VRING_BASE}: stops the vring and returns its next available index. */
    int getVringBase(int index) throws SysException;

    /** {@code VHOST_SET_VRING_KICK} ({@code null}: detach). */
    void setVringKick(int index, EventFd kick) throws SysException;

    /** {@code VHOST_SET_VRING_CALL} ({@code null}: detach). */
    void setVringCall(int index, EventFd call) throws SysException;

    /** {@code VHOST_SET_VRING_ERR} ({@code null}: detach). */
    void setVringErr(int index, EventFd err) throws SysException;

    /** {@code VHOST_SET_VRING_BUSYLOOP_TIMEOUT}, in microseconds. */
    void setVringBusyloopTimeout(int index, int micros) throws SysException;

    /** {@code VHOST_GET_VRING_BUSYLOOP_TIMEOUT}, in microseconds. */
    int getVringBusyloopTimeout(int index) throws SysException;

    /** {@code VHOST_NET_SET_BACKEND}: the tap queue the vring moves packets to and from ({@code -1}: detach). */
    void setBackend(int index, int tapFd) throws SysException;

    @Override
    void close();
}
