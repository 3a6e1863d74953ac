package dev.vhostnet.tools;

import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.vhostuser.VhostUserNetBackend;
import dev.vhostnet.vhostuser.VhostUserProtocolFeature;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vhostnet vhost-user}: this process as a vhost-user back-end on a tap, for a QEMU started with
 * {@code -netdev vhost-user}: the emulated virtio-net device moves packets between the guest's memory
 * and the tap. Runs until SIGTERM or Ctrl-C; a QEMU that goes may be followed by the next.
 */
@Command(
        name = "vhost-user",
        mixinStandardHelpOptions = true,
        description = {
            "Serve a virtio-net device as a vhost-user back-end on a Unix socket, its packets going to a tap.",
            "QEMU connects with -chardev socket,path=PATH -netdev vhost-user; its RAM must be shared "
                    + "(-object memory-backend-memfd,share=on). One queue pair. Runs until SIGTERM or Ctrl-C."
        },
        footer = {"", "Example: vhostnet vhost-user --socket /run/vhostnet/vm1.sock --tap vm1"})
public final class VhostUserCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(
            names = "--socket",
            required = true,
            paramLabel = "PATH",
            description =
                    "The Unix socket to listen on (a stale socket there, left by a back-end that died, is replaced).")
    private Path socket;

    @Option(
            names = "--tap",
            required = true,
            paramLabel = "NAME",
            description =
                    "The tap: a persistent one (vhostnet tap create NAME), or made for this run and gone after it.")
    private String tap;

    @Option(
            names = "--status-socket",
            paramLabel = "PATH",
            description =
                    "Where vhostnet status asks for this back-end's counters (default: the socket's path + .status;"
                            + " mode rw-------, root or this user only).")
    private Path statusSocket;

    @Override
    public Integer call() throws Exception {
        Daemon.logToStderr();
        PrintWriter out = spec.commandLine().getOut();
        try (TapDevice device = TapDevice.open(TapConfig.builder()
                        .name(tap)
                        .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                        .build());
                VhostUserNetBackend backend = VhostUserNetBackend.listen(socket, device);
                StatusSocket status = StatusSocket.open(
                        statusSocket != null ? statusSocket : StatusSocket.beside(socket),
                        () -> StatusDocument.vhostUser(backend, device.name()))) {
            out.printf("vhostnet vhost-user: serving %s on tap %s%n", socket, device.name());
            out.printf(
                    "features      %s, and PROTOCOL_FEATURES (%s)%n",
                    backend.offeredFeatures().without(VirtioFeature.PROTOCOL_FEATURES),
                    String.join(
                            " ",
                            VhostUserProtocolFeature.names(
                                    VhostUserProtocolFeature.mask(backend.offeredProtocolFeatures()))));
            out.printf(
                    "QEMU          -object memory-backend-memfd,id=mem,size=<RAM>,share=on -machine memory-backend=mem "
                            + "-chardev socket,id=vu0,path=%s -netdev vhost-user,id=net0,chardev=vu0 -device virtio-net-pci,netdev=net0%n",
                    socket);
            out.printf("status        vhostnet status --socket %s%n", status.path());
            out.flush();
            Daemon.runUntilSignalled(Daemon.closingInOrder(status, backend));
        }
        return 0;
    }
}
