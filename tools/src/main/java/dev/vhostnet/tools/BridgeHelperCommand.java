package dev.vhostnet.tools;

import dev.vhostnet.broker.BrokerPolicy;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.tap.Bridge;
import dev.vhostnet.tap.BridgeAcl;
import dev.vhostnet.tap.Offload;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.Tun;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vhostnet bridge-helper}: a drop-in for QEMU's {@code qemu-bridge-helper} ({@code main} of
 * {@code qemu-bridge-helper.c}). QEMU runs it as {@code HELPER --use-vnet --fd=N --br=BR} and reads
 * one tap fd from socket N. The bridge must be allowed by the ACL (QEMU's {@code bridge.conf}); the
 * uid is QEMU's, from the socket ({@code SO_PEERCRED}), checked against the broker's per-uid
 * options where given; the tap gets the bridge's MTU (or {@code --mtu}), the offloads asked for,
 * joins the bridge and comes up, and one line on stderr says what was granted. A refusal is one
 * line on stderr and a non-zero exit, which QEMU reports as the helper failing.
 */
@Command(
        name = "bridge-helper",
        mixinStandardHelpOptions = true,
        description = {
            "QEMU's bridge helper: -netdev bridge,br=BR,helper=\"vhostnet bridge-helper [OPTIONS]\".",
            "QEMU adds --use-vnet --fd=N --br=BR; the tap goes to QEMU over fd N (SCM_RIGHTS), on bridge BR if the "
                    + "ACL allows it. The helper protocol hands over one fd: for multiqueue taps and vhost-net fds use "
                    + "'vhostnet exec' or the broker ('vhostnet serve').",
            "Inside helper=, QEMU's option syntax writes a comma as ',,': --offload CSUM,,TSO4."
        },
        footer = {
            "",
            "ACL (QEMU's bridge.conf format): one rule a line, 'allow BR', 'deny BR', 'allow all', 'deny all', "
                    + "'include FILE', '#' comments; a bridge is granted when a rule allows it and none denies it."
        })
final class BridgeHelperCommand implements Callable<Integer> {
    @Option(
            names = "--use-vnet",
            description = "Give the tap a vnet header (IFF_VNET_HDR) if the kernel has it; QEMU always asks.")
    boolean useVnet;

    @Option(
            names = "--fd",
            required = true,
            paramLabel = "N",
            description = "The Unix socket to send the tap fd on (QEMU's).")
    int fd;

    @Option(names = "--br", required = true, paramLabel = "BRIDGE", description = "The bridge to put the tap on.")
    String bridge;

    @Option(
            names = "--config",
            paramLabel = "FILE",
            defaultValue = "/etc/qemu/bridge.conf",
            description =
                    "The ACL; default ${DEFAULT-VALUE}, QEMU's own. It must be owned by root (or the helper's user) and writable by its owner only.")
    Path config;

    @Option(
            names = "--offload",
            split = ",",
            paramLabel = "OFFLOAD",
            description =
                    "Offloads to set on the tap (${COMPLETION-CANDIDATES}); newer ones the kernel refuses are dropped.")
    Set<Offload> offloads = EnumSet.noneOf(Offload.class);

    @Option(
            names = "--mtu",
            paramLabel = "MTU",
            description = "MTU of the tap (default: the bridge's, as qemu-bridge-helper).")
    Integer mtu;

    @Option(
            names = "--allow-uid",
            split = ",",
            paramLabel = "UID",
            description = "Only QEMUs of these uids (or --allow-gid gids) get a tap, as the broker's --allow-uid.")
    List<Integer> allowUids = new ArrayList<>();

    @Option(names = "--allow-gid", split = ",", paramLabel = "GID", description = "Gids whose QEMUs get a tap.")
    List<Integer> allowGids = new ArrayList<>();

    @Option(
            names = "--tap-prefix",
            paramLabel = "UID=PREFIX",
            description = "Name taps of UID PREFIX<n> (*=PREFIX for the others), as the broker's; without it: tap<n>, "
                    + "as qemu-bridge-helper. A uid without a prefix then gets no tap.")
    List<String> tapPrefixes = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Bridge.checkName(bridge);
        BridgeAcl.Decision decision = acl().decide(bridge);
        if (!decision.granted()) {
            throw new Failures.NoPermissionException("bridge " + bridge + " is " + decision.reason()
                    + (decision.rule().isPresent()
                            ? ": deny wins over allow, remove that rule to grant it"
                            : " of " + config + ": add 'allow " + bridge + "' there to grant it"));
        }
        try (HelperSocket socket = HelperSocket.inherited(fd)) {
            AFUNIXSocketCredentials peer = socket.peer();
            String tapName = tapName(peer);
            try (TapDevice tap = Bridge.openPort(bridge, tapConfig(tapName))) {
                socket.send(tap.queue(0).rawFd());
                spec.commandLine()
                        .getErr()
                        .printf(
                                "%s: tap %s on bridge %s for uid %d gid %d (pid %d): %s, offloads %s, mtu %d; %s%n",
                                spec.qualifiedName(),
                                tap.name(),
                                bridge,
                                peer.getUid(),
                                peer.getGid(),
                                peer.getPid(),
                                tap.config().vnetHeader() ? "vnet header" : "no vnet header",
                                tap.offloads().isEmpty() ? "none" : tap.offloads(),
                                tap.config().mtu().orElse(0),
                                decision.reason());
                spec.commandLine().getErr().flush();
            }
        }
        return 0;
    }

    private BridgeAcl acl() throws java.io.IOException {
        try {
            return BridgeAcl.read(config);
        } catch (NoSuchFileException e) {
            throw new Failures.HostLacksException("no ACL at " + config + ": write one with a line 'allow " + bridge
                    + "' (QEMU's bridge.conf format), or give --config FILE");
        }
    }

    /** {@code tap%d}, or the uid's prefix and {@code %d} where {@code --tap-prefix} is given; refuses uids the policy does not admit. */
    private String tapName(AFUNIXSocketCredentials peer) {
        if (allowUids.isEmpty() && allowGids.isEmpty() && tapPrefixes.isEmpty()) {
            return "tap%d";
        }
        BrokerPolicy.Builder p = BrokerPolicy.builder();
        allowUids.forEach(p::allowUid);
        allowGids.forEach(p::allowGid);
        tapPrefixes.forEach(p::tapPrefix);
        BrokerPolicy policy = p.build();
        if (!allowUids.isEmpty() || !allowGids.isEmpty()) {
            policy.checkPeer(peer.getUid(), peer.getGid()).ifPresent(why -> {
                throw new Failures.NoPermissionException(why);
            });
        }
        if (tapPrefixes.isEmpty()) {
            return "tap%d";
        }
        return policy.prefixFor(peer.getUid())
                .map(prefix -> prefix + "%d")
                .orElseThrow(() -> new Failures.NoPermissionException("uid " + peer.getUid()
                        + " has no tap name prefix: add --tap-prefix " + peer.getUid() + "=PREFIX"));
    }

    private TapConfig tapConfig(String name) throws dev.vhostnet.sys.SysException {
        boolean vnet = useVnet && Tun.supports(TunUapi.IFF_VNET_HDR);
        if (!offloads.isEmpty() && !vnet) {
            throw new IllegalArgumentException("--offload needs a vnet header: "
                    + (useVnet ? "this kernel's tun has none (IFF_VNET_HDR)" : "give --use-vnet (QEMU does)"));
        }
        TapConfig.Builder c = TapConfig.builder()
                .name(name)
                .vnetHeader(vnet ? TapConfig.VNET_HDR_LEGACY : 0)
                .offloads(offloads.toArray(Offload[]::new));
        if (mtu != null) {
            c.mtu(mtu);
        }
        return c.build();
    }
}
