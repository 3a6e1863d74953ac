package dev.vhostnet.tools;

import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.emulated.TxCopy;
import dev.vhostnet.sys.SocketFile;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.vhostuser.VhostUserNetBackend;
import dev.vhostnet.vhostuser.VhostUserProtocolFeature;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vhostnet vhost-user}: this process as a vhost-user back-end on a tap, for a QEMU started with
 * {@code -netdev vhost-user}: the emulated virtio-net device moves packets between the guest's memory
 * and the tap, on as many queue pairs as the tap has queues. Listens, or with {@code --client} dials
 * a QEMU that listens ({@code server=on}). Runs until SIGTERM or Ctrl-C; a QEMU that goes may be
 * followed by the next.
 */
@Command(
        name = "vhost-user",
        mixinStandardHelpOptions = true,
        description = {
            "Serve a virtio-net device as a vhost-user back-end on a Unix socket, its packets going to a tap.",
            "QEMU connects with -chardev socket,path=PATH -netdev vhost-user; its RAM must be shared "
                    + "(-object memory-backend-memfd,share=on). Runs until SIGTERM or Ctrl-C.",
            "With --queues N, N queue pairs on a multiqueue tap, for -netdev vhost-user,queues=N and "
                    + "-device virtio-net-pci,mq=on: the device serves the pairs the guest's driver enables.",
            "With --client, QEMU listens (-chardev socket,path=PATH,server=on) and this command dials it, "
                    + "again while nothing listens and after each QEMU goes.",
            "The socket is made rw-rw---- by default: a QEMU run as another user connects when it is in --socket-group.",
            "vhostnet status reads its counters (per queue pair, every QEMU counted) on SOCKET.status, or on "
                    + "--status-socket, which --client needs: QEMU's socket is no file of this command's."
        },
        footer = {"", "Example: vhostnet vhost-user --socket /run/vhostnet/vm1.sock --tap vm1"})
public final class VhostUserCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(
            names = "--socket",
            required = true,
            paramLabel = "PATH",
            description = "The Unix socket to listen on (a stale socket there, left by a back-end that died, is "
                    + "replaced), or with --client the one QEMU listens on.")
    private Path socket;

    @Option(
            names = "--queues",
            defaultValue = "1",
            paramLabel = "N",
            description = "Queue pairs, one per tap queue (QEMU's queues=N); default ${DEFAULT-VALUE}.")
    private int queues;

    @Option(names = "--client", description = "Dial QEMU's socket (QEMU started with server=on) instead of listening.")
    private boolean client;

    @Option(
            names = "--tap",
            required = true,
            paramLabel = "NAME",
            description =
                    "The tap: a persistent one (vhostnet tap create NAME), or made for this run and gone after it.")
    private String tap;

    @Option(
            names = "--tx-copy",
            paramLabel = "MODE",
            description = "How a frame the guest sends reaches the tap: SINGLE (one writev of the guest's buffers) "
                    + "or DOUBLE (gathered into a buffer first, the yardstick); default ${DEFAULT-VALUE}.")
    private TxCopy txCopy = TxCopy.DEFAULT;

    @Mixin
    private SocketAccessOptions socketAccess;

    @Mixin
    private StatusSocketOptions statusSocket;

    @Override
    public Integer call() throws Exception {
        Daemon.logToStderr();
        PrintWriter out = spec.commandLine().getOut();
        SocketFile.Access access = socketAccess.access();
        if (client
                && (spec.commandLine().getParseResult().hasMatchedOption("--socket-mode")
                        || spec.commandLine().getParseResult().hasMatchedOption("--socket-group"))) {
            throw new IllegalArgumentException("--socket-mode and --socket-group set the socket this command "
                    + "listens on; with --client the socket is QEMU's (give QEMU's user the access instead)");
        }
        if (client && !statusSocket.given()) {
            throw new IllegalArgumentException("with --client give --status-socket PATH: the socket is QEMU's, "
                    + "and this command makes no file beside it (without --client, SOCKET.status is the default)");
        }
        try (TapDevice device = TapDevice.open(TapConfig.builder()
                        .name(tap)
                        .queues(queues)
                        .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                        .build());
                VhostUserNetBackend backend = client
                        ? VhostUserNetBackend.on(device).txCopy(txCopy).dial(socket)
                        : VhostUserNetBackend.on(device)
                                .txCopy(txCopy)
                                .socketAccess(access)
                                .listen(socket);
                StatusSocket status =
                        statusSocket.open(socket, () -> StatusDocument.vhostUser(backend, device.name()))) {
            out.printf(
                    "vhostnet vhost-user: %s %s on tap %s, %d queue pair%s%n",
                    client ? "dialling" : "serving", socket, device.name(), queues, queues == 1 ? "" : "s");
            out.printf(
                    "features      %s, and PROTOCOL_FEATURES (%s)%n",
                    backend.offeredFeatures().without(VirtioFeature.PROTOCOL_FEATURES),
                    String.join(
                            " ",
                            VhostUserProtocolFeature.names(
                                    VhostUserProtocolFeature.mask(backend.offeredProtocolFeatures()))));
            out.printf(
                    "QEMU          -object memory-backend-memfd,id=mem,size=<RAM>,share=on -machine memory-backend=mem "
                            + "-chardev socket,id=vu0,path=%s%s -netdev vhost-user,id=net0,chardev=vu0%s "
                            + "-device virtio-net-pci,netdev=net0%s%n",
                    socket,
                    client ? ",server=on" : "",
                    queues > 1 ? ",queues=" + queues : "",
                    queues > 1 ? ",mq=on" : "");
            out.printf("status        vhostnet status --socket %s%n", status.path());
            out.flush();
            Daemon.runUntilSignalled(Daemon.closingInOrder(status, backend));
        }
        return 0;
    }
}
