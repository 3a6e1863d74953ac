package dev.vhostnet.tap;

import com.google.common.collect.ImmutableList;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;
import java.util.ArrayList;
import java.util.List;

/**
 * The provisioning policy (Cloud Hypervisor's {@code open_tap}): the steps that turn a
 * {@link TapConfig} into a {@link TapDevice}, in order —
 * <ol>
 *   <li>queue 0: open {@code /dev/net/tun}, {@code TUNSETIFF} (the kernel fills in a {@code %d});
 *   <li>{@code TUNSETVNETHDRSZ} when the tap has a vnet header;
 *   <li>queues 1…n-1: open and {@code TUNSETIFF} with {@code IFF_MULTI_QUEUE};
 *   <li>{@code TUNSETOFFLOAD}, stepping down newer flags the kernel refuses ({@link OffloadNegotiation});
 *   <li>{@code TUNSETPERSIST}, {@code TUNSETOWNER}, {@code TUNSETGROUP};
 *   <li>link: {@code SIOCSIFMTU}, {@code SIOCSIFHWADDR}, {@code IFF_UP}.
 * </ol>
 * A failure at any step undoes the half-done bring-up: persistence it set is cleared and every fd
 * it opened is closed, so a tap it created disappears.
 */
final class TapBringUp {
    private final TapConfig config;
    private final String tunPath;
    private final List<TapQueue> opened = new ArrayList<>();
    private TapDevice device;
    private boolean madePersistent;

    private TapBringUp(TapConfig config, String tunPath) {
        this.config = config;
        this.tunPath = tunPath;
    }

    static TapDevice run(TapConfig config, String tunPath) throws SysException {
        TapBringUp bringUp = new TapBringUp(config, tunPath);
        try {
            return bringUp.steps();
        } catch (SysException | RuntimeException | Error e) {
            bringUp.undo(e);
            throw e;
        }
    }

    private TapDevice steps() throws SysException {
        TapQueue first = TapQueue.open(tunPath, config.name(), config.iffFlags(), 0, config.queues());
        opened.add(first);
        String name = first.tapName();
        if (config.vnetHeader()) {
            TapDevice.setVnetHdrSz(first, config.vnetHeaderSize());
        }
        for (int i = 1; i < config.queues(); i++) {
            opened.add(TapQueue.open(tunPath, name, config.iffFlags(), i, config.queues()));
        }
        OffloadNegotiation.Result offloads =
                OffloadNegotiation.negotiate(config.offloads(), flags -> TapDevice.setOffload(first, flags));
        device = new TapDevice(config, name, ImmutableList.copyOf(opened), offloads);
        boolean wasPersistent = (device.getIff() & TunUapi.IFF_PERSIST) != 0;
        if (config.persistent() && !wasPersistent) {
            device.setPersist(true);
            madePersistent = true;
        }
        if (config.owner().isPresent()) {
            device.setOwner(config.owner().getAsInt());
        }
        if (config.group().isPresent()) {
            device.setGroup(config.group().getAsInt());
        }
        if (config.mtu().isPresent() || config.mac().isPresent() || config.up()) {
            try (NetInterface link = NetInterface.open(name)) {
                if (config.mtu().isPresent()) {
                    link.setMtu(config.mtu().getAsInt());
                }
                if (config.mac().isPresent()) {
                    link.setMac(config.mac().get());
                }
                if (config.up()) {
                    link.setUp(true);
                }
            }
        }
        return device;
    }

    private void undo(Throwable failure) {
        if (madePersistent) {
            try {
                device.setPersist(false);
            } catch (SysException | RuntimeException e) {
                failure.addSuppressed(e);
            }
        }
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
    }
}
