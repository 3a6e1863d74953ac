package dev.vhostnet.tap;

import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Hint;
import dev.vhostnet.sys.Ioctl;
import dev.vhostnet.sys.SocketUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.sys.TunUapi.Ifreq;

/**
 * The link settings of a network interface (MTU, Ethernet address, {@code IFF_UP}, index), read
 * and written with the {@code SIOC*IF*} ioctls of {@code <linux/sockios.h>} on an
 * {@code AF_INET}/{@code SOCK_DGRAM} socket it owns. The socket, and so the interface it finds by
 * name, belongs to the network namespace of the thread that opened it.
 */
public final class NetInterface implements AutoCloseable {
    private final Fd socket;
    private final String name;

    private NetInterface(Fd socket, String name) {
        this.socket = socket;
        this.name = name;
    }

    /** Opens a control socket for interface {@code name} in the calling thread's network namespace. */
    public static NetInterface open(String name) throws SysException {
        return new NetInterface(Syscalls.socket(SocketUapi.AF_INET, SocketUapi.SOCK_DGRAM, 0), name);
    }

    public String name() {
        return name;
    }

    /** {@code SIOCGIFMTU}. */
    public int mtu() throws SysException {
        return call(TunUapi.SIOCGIFMTU, new Ifreq(name), TapErrors.link(name)).intValue();
    }

    /** {@code SIOCSIFMTU}; the kernel checks the device's own range. */
    public void setMtu(int mtu) throws SysException {
        call(TunUapi.SIOCSIFMTU, new Ifreq(name).intValue(mtu), TapErrors.mtu(name, mtu));
    }

    /** {@code SIOCGIFHWADDR}. */
    public MacAddress mac() throws SysException {
        return MacAddress.of(call(TunUapi.SIOCGIFHWADDR, new Ifreq(name), TapErrors.link(name))
                .hwaddr());
    }

    /** {@code SIOCSIFHWADDR} with {@code ARPHRD_ETHER}. */
    public void setMac(MacAddress mac) throws SysException {
        call(TunUapi.SIOCSIFHWADDR, new Ifreq(name).hwaddr(mac.bytes()), TapErrors.link(name));
    }

    /** {@code SIOCGIFFLAGS}: the {@code IFF_*} interface flags of {@code <linux/if.h>}. */
    public int flags() throws SysException {
        return call(TunUapi.SIOCGIFFLAGS, new Ifreq(name), TapErrors.link(name)).flags() & 0xffff;
    }

    public boolean isUp() throws SysException {
        return (flags() & TunUapi.IFF_UP) != 0;
    }

    /** {@code SIOCGIFFLAGS} then {@code SIOCSIFFLAGS} with {@code IFF_UP} set or cleared. */
    public void setUp(boolean up) throws SysException {
        int flags = flags();
        int wanted = up ? flags | TunUapi.IFF_UP : flags & ~TunUapi.IFF_UP;
        call(TunUapi.SIOCSIFFLAGS, new Ifreq(name).flags(wanted), TapErrors.link(name));
    }

    /** {@code SIOCGIFINDEX}. */
    public int index() throws SysException {
        return call(TunUapi.SIOCGIFINDEX, new Ifreq(name), TapErrors.link(name)).intValue();
    }

    private Ifreq call(Ioctl request, Ifreq ifr, Hint hint) throws SysException {
        try {
            socket.ioctl(request, ifr);
            return ifr;
        } catch (SysException e) {
            throw TapErrors.at(e, "interface " + name, hint);
        }
    }

    @Override
    public void close() {
        socket.close();
    }

    @Override
    public String toString() {
        return "NetInterface[" + name + ", " + socket + "]";
    }
}
