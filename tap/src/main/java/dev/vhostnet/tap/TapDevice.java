package dev.vhostnet.tap;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import com.sun.jna.ptr.IntByReference;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Hint;
import dev.vhostnet.sys.Ioctl;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.sys.TunUapi.Ifreq;
import java.io.IOException;
import java.util.Set;

/**
 * A tap interface and the queue fds this process holds on it ({@code struct tun_struct} of
 * {@code drivers/net/tun.c}, ioctls of {@code <linux/if_tun.h>}). Made by {@link #open(TapConfig)};
 * closing it closes every queue, which removes the tap unless it is persistent. Device-wide ioctls
 * go through queue 0 (the kernel takes them on any queue, attached or detached).
 */
public final class TapDevice implements AutoCloseable {
    private final TapConfig config;
    private final String name;
    private final ImmutableList<TapQueue> queues;
    private volatile OffloadNegotiation.Result offloads;
    private volatile int vnetHeaderSize;

    TapDevice(TapConfig config, String name, ImmutableList<TapQueue> queues, OffloadNegotiation.Result offloads) {
        this.config = config;
        this.name = name;
        this.queues = queues;
        this.offloads = offloads;
        this.vnetHeaderSize = config.vnetHeaderSize();
    }

    /**
     * Creates or attaches to the tap {@code config} describes and configures it: {@code TUNSETIFF}
     * per queue, vnet header size, offloads (stepping down newer ones the kernel refuses),
     * persistence and owner, then MTU, MAC and link up. A failure names the step and queue, clears
     * persistence it set and closes every fd opened so far.
     */
    public static TapDevice open(TapConfig config) throws SysException {
        return TapBringUp.run(config, Tun.PATH);
    }

    /**
     * Removes the persistent tap {@code name}, as {@code ip tuntap del} does: attaches to it
     * ({@code TUNSETIFF} with its multiqueue flag), clears {@code TUNSETPERSIST} and closes. A process
     * still attached keeps it until it closes its fds. Throws {@link IllegalArgumentException} when
     * there is no tap of that name.
     */
    public static void delete(String name) throws IOException {
        TapInfo info = TapInfo.read(name)
                .orElseThrow(() -> new IllegalArgumentException(
                        "no tap named " + name + " in this network namespace ('vhostnet tap list' shows the taps)"));
        TapConfig config =
                TapConfig.builder().name(name).queues(info.multiQueue() ? 2 : 1).build();
        try (TapDevice tap = open(config)) {
            tap.setPersist(false);
        }
    }

    /** The interface name the kernel gave (a {@code %d} pattern filled in). */
    public String name() {
        return name;
    }

    public TapConfig config() {
        return config;
    }

    public ImmutableList<TapQueue> queues() {
        return queues;
    }

    public TapQueue queue(int index) {
        Preconditions.checkElementIndex(index, queues.size(), "queue");
        return queues.get(index);
    }

    /** The frame reader/writer of queue {@code index}, with this tap's vnet header size as of now. */
    public TapEndpoint endpoint(int index) {
        return new TapEndpoint(queue(index), vnetHeaderSize);
    }

    /** The offloads the kernel took. */
    public ImmutableSet<Offload> offloads() {
        return offloads.accepted();
    }

    /** Offloads asked for but refused by this kernel and dropped. */
    public ImmutableSet<Offload> refusedOffloads() {
        return offloads.refused();
    }

    /**
     * {@code TUNSETOFFLOAD} with the step-down policy of {@link Offload}: newer flags the kernel
     * refuses are dropped; returns what it took (as when a guest changes its offloads).
     */
    public ImmutableSet<Offload> setOffloads(Set<Offload> wanted) throws SysException {
        TapQueue queue = control();
        offloads = OffloadNegotiation.negotiate(wanted, flags -> setOffload(queue, flags));
        return offloads.accepted();
    }

    static void setOffload(TapQueue queue, int flags) throws SysException {
        try {
            queue.fd().ioctl(TunUapi.TUNSETOFFLOAD, flags);
        } catch (SysException e) {
            throw TapErrors.at(e, queue.where(), Hint.NONE);
        }
    }

    /** {@code TUNGETIFF}: the tap's {@code IFF_*} flags as the kernel reports them. */
    public int getIff() throws SysException {
        Ifreq ifr = new Ifreq();
        try {
            control().fd().ioctl(TunUapi.TUNGETIFF, ifr);
        } catch (SysException e) {
            throw TapErrors.at(e, "tap " + name, Hint.NONE);
        }
        return ifr.flags() & 0xffff;
    }

    /** {@code TUNGETVNETHDRSZ}. */
    public int getVnetHdrSz() throws SysException {
        IntByReference size = new IntByReference();
        try {
            control().fd().ioctl(TunUapi.TUNGETVNETHDRSZ, size.getPointer());
        } catch (SysException e) {
            throw TapErrors.at(e, "tap " + name, Hint.NONE);
        }
        return size.getValue();
    }

    /**
     * {@code TUNSETVNETHDRSZ}: 10 or 12, to match what the guest driver negotiated; endpoints
     * made afterwards use the new size.
     */
    public void setVnetHdrSz(int size) throws SysException {
        Preconditions.checkState(
                config.vnetHeader(), "tap %s has no vnet header: open it with vnetHeader(10 or 12)", name);
        Preconditions.checkArgument(
                size == TapConfig.VNET_HDR_LEGACY || size == TapConfig.VNET_HDR_MRG_RXBUF,
                "vnet header size must be 10 or 12, not %s",
                size);
        setVnetHdrSz(control(), size);
        vnetHeaderSize = size;
    }

    static void setVnetHdrSz(TapQueue queue, int size) throws SysException {
        IntByReference value = new IntByReference(size);
        try {
            queue.fd().ioctl(TunUapi.TUNSETVNETHDRSZ, value.getPointer());
        } catch (SysException e) {
            throw TapErrors.at(e, queue.where(), Hint.NONE);
        }
    }

    /** {@code TUNSETPERSIST}: whether the tap outlives its last fd. Clearing it lets {@link #close()} remove the tap. */
    public void setPersist(boolean persist) throws SysException {
        ioctl(TunUapi.TUNSETPERSIST, persist ? 1 : 0);
    }

    /** {@code TUNSETOWNER}: the uid that may attach without {@code CAP_NET_ADMIN}. */
    public void setOwner(int uid) throws SysException {
        ioctl(TunUapi.TUNSETOWNER, uid);
    }

    /** {@code TUNSETGROUP}: the gid that may attach without {@code CAP_NET_ADMIN}. */
    public void setGroup(int gid) throws SysException {
        ioctl(TunUapi.TUNSETGROUP, gid);
    }

    private void ioctl(Ioctl request, long arg) throws SysException {
        TapQueue queue = control();
        try {
            queue.fd().ioctl(request, arg);
        } catch (SysException e) {
            throw TapErrors.at(e, "tap " + name, errno -> errno == Errno.EPERM.number() ? TapErrors.PERMISSION : null);
        }
    }

    private TapQueue control() {
        return queues.get(0);
    }

    /** Closes every queue, last first; a non-persistent tap disappears with its last fd. Idempotent. */
    @Override
    public void close() {
        for (TapQueue q : queues.reverse()) {
            q.close();
        }
    }

    @Override
    public String toString() {
        return "TapDevice[" + name + ", " + queues.size() + " queue(s), offloads " + offloads.accepted() + "]";
    }
}
