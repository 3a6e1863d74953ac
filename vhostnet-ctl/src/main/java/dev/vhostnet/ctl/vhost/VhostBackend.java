package dev.vhostnet.ctl.vhost;

import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.SysException;

/**
 * The requests every vhost transport has, for the vrings of one queue pair: the kernel's ioctls of
 * {@code <linux/vhost.h>} and vhost-user's messages alike (rust-vmm's {@code VhostBackend}, QEMU's
 * {@code VhostOps}). What a transport has beyond these lives in its own interface: vhost-net's
 * {@code VhostNetBackend} and the kernel's {@code VhostKernelBackend} ({@code dev.vhostnet.ctl.kernel}),
 * vhost-user's {@code VhostUserFrontend}.
 */
public interface VhostBackend extends AutoCloseable {
    /** {@code SET_OWNER}. */
    void setOwner() throws SysException;

    /** {@code RESET_OWNER}: back to the state after open. */
    void resetOwner() throws SysException;

    /** {@code GET_FEATURES}. */
    long getFeatures() throws SysException;

    /** {@code SET_FEATURES}: only bits {@link #getFeatures()} offered. */
    void setFeatures(long features) throws SysException;

    /** {@code SET_MEM_TABLE} with every region of {@code memory}. */
    void setMemTable(MemoryTable memory) throws SysException;

    /** {@code SET_LOG_FD}: the eventfd signalled when the dirty log is written. */
    void setLogFd(EventFd fd) throws SysException;

    /** {@code SET_VRING_NUM}. */
    void setVringNum(int index, int num) throws SysException;

    /** {@code SET_VRING_ADDR}. */
    void setVringAddr(int index, VringAddress address) throws SysException;

    /** {@code SET_VRING_BASE}: the next available index the device will read. */
    void setVringBase(int index, int base) throws SysException;

    /** {@code GET_VRING_BASE}: stops the vring and returns its next available index. */
    int getVringBase(int index) throws SysException;

    /** {@code SET_VRING_KICK} ({@code null}: detach). */
    void setVringKick(int index, EventFd kick) throws SysException;

    /** {@code SET_VRING_CALL} ({@code null}: detach). */
    void setVringCall(int index, EventFd call) throws SysException;

    /** {@code SET_VRING_ERR} ({@code null}: detach). */
    void setVringErr(int index, EventFd err) throws SysException;

    @Override
    void close();
}
