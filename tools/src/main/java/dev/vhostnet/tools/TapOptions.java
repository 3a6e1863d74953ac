package dev.vhostnet.tools;

import dev.vhostnet.tap.Bridge;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.tap.TapConfig;
import java.util.EnumSet;
import java.util.Set;
import picocli.CommandLine.Option;

/** The tap options {@code tap create} and {@code exec} share: queues, vnet header, offloads, MTU, MAC, bridge. */
final class TapOptions {
    @Option(
            names = "--queues",
            defaultValue = "1",
            description = "Queues (more than 1: IFF_MULTI_QUEUE); default ${DEFAULT-VALUE}.")
    int queues;

    @Option(
            names = "--vnet-hdr",
            defaultValue = "12",
            paramLabel = "BYTES",
            description =
                    "vnet header size: 12 (virtio 1.0, MRG_RXBUF), 10 (legacy) or 0 (none); default ${DEFAULT-VALUE}.")
    int vnetHeader;

    @Option(
            names = "--offload",
            split = ",",
            paramLabel = "OFFLOAD",
            description = "Offloads to ask for (${COMPLETION-CANDIDATES}); refused newer ones are dropped.")
    Set<Offload> offloads = EnumSet.noneOf(Offload.class);

    @Option(names = "--mtu", description = "MTU (68 to 65535).")
    Integer mtu;

    @Option(names = "--mac", description = "Ethernet address, e.g. 02:00:00:00:00:01.")
    String mac;

    @Option(names = "--bridge", paramLabel = "BRIDGE", description = "Enslave the tap to this existing bridge.")
    String bridge;

    /** A tap named {@code name} as the options describe it (the bridge aside). */
    TapConfig.Builder config(String name) {
        TapConfig.Builder config = TapConfig.builder()
                .name(name)
                .queues(queues)
                .vnetHeader(vnetHeader)
                .offloads(offloads.toArray(Offload[]::new));
        if (mtu != null) {
            config.mtu(mtu);
        }
        if (mac != null) {
            config.mac(MacAddress.parse(mac));
        }
        return config;
    }

    /** Fails, with the fix, when {@code --bridge} names no bridge: before anything is made. */
    void checkBridge() {
        if (bridge != null && !Bridge.exists(bridge)) {
            throw new Failures.HostLacksException("no bridge named " + bridge + ": create it with 'ip link add "
                    + bridge + " type bridge && ip link set " + bridge + " up'");
        }
    }
}
