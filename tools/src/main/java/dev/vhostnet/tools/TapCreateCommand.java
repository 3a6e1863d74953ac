package dev.vhostnet.tools;

import dev.vhostnet.tap.Bridge;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Mixin
    TapOptions tap;

    @Option(names = "--owner", paramLabel = "UID", description = "uid that may attach without CAP_NET_ADMIN.")
    Integer owner;

    @Option(names = "--group", paramLabel = "GID", description = "gid that may attach without CAP_NET_ADMIN.")
    Integer group;

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
        tap.checkBridge();
        TapConfig.Builder config = tap.config(name).persistent(true).up(up);
        if (owner != null) {
            config.owner(owner);
        }
        if (group != null) {
            config.group(group);
        }
        String created;
        try (TapDevice device = TapDevice.open(config.build())) {
            created = device.name();
        }
        if (tap.bridge != null) {
            try {
                Bridge.attach(created, tap.bridge);
            } catch (Exception e) {
                TapDevice.delete(created);
                throw e;
            }
        }
        TapCommand.describe(TapCommand.existing(created), spec.commandLine().getOut());
        return 0;
    }
}
