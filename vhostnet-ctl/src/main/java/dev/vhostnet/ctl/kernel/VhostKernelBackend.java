package dev.vhostnet.ctl.kernel;

import dev.vhostnet.ctl.vhost.VhostBackend;
import dev.vhostnet.sys.SysException;

/**
 * The ioctls of {@code <linux/vhost.h>} that only the kernel's vhost devices have (rust-vmm's
 * {@code VhostKernBackend}): the dirty log as an address of this process, IOTLB message versions,
 * busy polling, legacy cross-endian rings.
 */
public interface VhostKernelBackend extends VhostBackend {
    /** {@code VHOST_SET_LOG_BASE}: the address, in this process, of the dirty page bitmap. */
    void setLogBase(long address) throws SysException;

    /** {@code VHOST_GET_BACKEND_FEATURES}. */
    long getBackendFeatures() throws SysException;

    /** {@code VHOST_SET_BACKEND_FEATURES}. */
    void setBackendFeatures(long features) throws SysException;

    /** {@code VHOST_SET_VRING_BUSYLOOP_TIMEOUT}, in microseconds. */
    void setVringBusyloopTimeout(int index, int micros) throws SysException;

    /** {@code VHOST_GET_VRING_BUSYLOOP_TIMEOUT}, in microseconds. */
    int getVringBusyloopTimeout(int index) throws SysException;

    /** {@code VHOST_SET_VRING_ENDIAN}: {@code bigEndian} for a legacy big-endian guest's ring. */
    void setVringEndian(int index, boolean bigEndian) throws SysException;

    /** {@code VHOST_GET_VRING_ENDIAN}: whether the ring is read big-endian. */
    boolean getVringEndian(int index) throws SysException;
}
