package dev.vhostnet.tools;

import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Spawn;
import dev.vhostnet.tap.Bridge;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vhostnet exec}: opens a tap's queue fds (and vhost-net fds), then runs a command that
 * inherits exactly those and stdio, with {@code {tapfd}} and {@code {vhostfd}} in its arguments
 * replaced by their numbers — as libvirt starts QEMU. Several queues' numbers are joined with
 * colons, the form of QEMU's {@code fds=} and {@code vhostfds=} ({@code net_init_tap}: a comma
 * would end the option).
 */
@Command(
        name = "exec",
        mixinStandardHelpOptions = true,
        description = {
            "Open a tap (and vhost-net) and run a command that inherits the fds.",
            "As libvirt starts QEMU:",
            "  vhostnet exec --tap t0 --vhost -- qemu-system-x86_64 ... -netdev tap,id=n0,fd={tapfd},vhost=on,vhostfd={vhostfd}",
            "{tapfd} and {vhostfd} become the fd numbers, colon-joined for several queues, as QEMU's "
                    + "fds= and vhostfds= take them: --queues 2 -- ... -netdev tap,id=n0,fds={tapfd},vhost=on,vhostfds={vhostfd}. "
                    + "The child gets stdin, stdout, stderr and these fds only. Exits with the command's exit status.",
            "The tap takes the options of 'tap create' (--offload, --mtu, --mac); with --bridge it is made a port "
                    + "of the bridge as qemu-bridge-helper makes one (the bridge's MTU, an fe: MAC unless --mac) and brought up."
        })
final class ExecCommand implements Callable<Integer> {
    @Option(
            names = "--tap",
            defaultValue = "vhn%d",
            paramLabel = "NAME",
            description =
                    "Tap to open (made if missing, and gone when the command ends unless persistent); default ${DEFAULT-VALUE}.")
    String tap;

    @Mixin
    TapOptions tapOptions;

    @Option(names = "--vhost", description = "Also open one /dev/vhost-net fd per queue for {vhostfd}.")
    boolean vhost;

    @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "The command and its arguments, after --.")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        tapOptions.checkBridge();
        TapConfig config = tapOptions.config(tap).build();
        List<VhostNet> vhostFds = new ArrayList<>();
        try (TapDevice device =
                tapOptions.bridge != null ? Bridge.openPort(tapOptions.bridge, config) : TapDevice.open(config)) {
            List<Fd> passed = new ArrayList<>();
            device.queues().stream().map(TapQueue::fd).forEach(passed::add);
            if (vhost) {
                for (int i = 0; i < tapOptions.queues; i++) {
                    vhostFds.add(VhostNet.open());
                }
                vhostFds.stream().map(VhostNet::fd).forEach(passed::add);
            }
            String tapFds =
                    device.queues().stream().map(q -> String.valueOf(q.rawFd())).collect(Collectors.joining(":"));
            String vhostFdList =
                    vhostFds.stream().map(v -> String.valueOf(v.fd().get())).collect(Collectors.joining(":"));
            List<String> argv = command.stream()
                    .map(a -> a.replace("{tapfd}", tapFds).replace("{vhostfd}", vhostFdList))
                    .toList();
            Spawn.Child child = Spawn.start(argv, System.getenv(), passed);
            vhostFds.forEach(VhostNet::close);
            device.queues().forEach(TapQueue::close); // the child holds the tap now; this process lets go
            return child.waitFor();
        } finally {
            vhostFds.forEach(VhostNet::close);
        }
    }
}
