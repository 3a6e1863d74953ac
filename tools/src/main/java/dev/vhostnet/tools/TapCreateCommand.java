package dev.vhostnet.tools;

import dev.vhostnet.tap.Bridge;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code vhostnet tap create}: a persistent tap, configured from the options. */
@Command(
        name = "create",
        mixinStandardHelpOptions = true,
        description = {
            "Create a persistent tap (TUNSETPERSIST): it stays after this command exits, for a VMM to "
                    + "attach to, until 'vhostnet tap delete'. An existing tap of that name is attached to and reconfigured."
        })
final class TapCreateCommand implements Callable<Integer> {
    @Parameters(
            index = "0",
            defaultValue = "tap%d",
            paramLabel = "NAME",
            description = "Interface name, or a pattern with one %%d the kernel fills in (default: ${DEFAULT-VALUE}).")
    String name;

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

    @Option(names = "--owner", paramLabel = "UID", description = "uid that may attach without CAP_NET_ADMIN.")
    Integer owner;

    @Option(names = "--group", paramLabel = "GID", description = "gid that may attach without CAP_NET_ADMIN.")
    Integer group;

    @Option(names = "--bridge", paramLabel = "BRIDGE", description = "Enslave the tap to this existing bridge.")
    String bridge;

    @Option(
            names = "--up",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description = "Bring the link up (default); --no-up leaves it down.")
    boolean up;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (bridge != null && !Bridge.exists(bridge)) {
            throw new Failures.HostLacksException("no bridge named " + bridge + ": create it with 'ip link add "
                    + bridge + " type bridge && ip link set " + bridge + " up'");
        }
        TapConfig.Builder config = TapConfig.builder()
                .name(name)
                .queues(queues)
                .vnetHeader(vnetHeader)
                .offloads(offloads.toArray(Offload[]::new))
                .persistent(true)
                .up(up);
        if (mtu != null) {
            config.mtu(mtu);
        }
        if (mac != null) {
            config.mac(MacAddress.parse(mac));
        }
        if (owner != null) {
            config.owner(owner);
        }
        if (group != null) {
            config.group(group);
        }
        String created;
        try (TapDevice tap = TapDevice.open(config.build())) {
            created = tap.name();
        }
        if (bridge != null) {
            try {
                Bridge.attach(created, bridge);
            } catch (Exception e) {
                TapDevice.delete(created);
                throw e;
            }
        }
        TapCommand.describe(TapCommand.existing(created), spec.commandLine().getOut());
        return 0;
    }
}
