package dev.vhostnet.tools;

import dev.vhostnet.broker.Broker;
import dev.vhostnet.broker.BrokerPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vhostnet serve}: the privileged fd broker. Runs until SIGTERM or Ctrl-C, then stops
 * accepting, deletes the non-persistent taps it made and removes its socket; exits 1 when it can no
 * longer accept (its socket file removed or replaced), so a supervisor restarts it. Logs to stderr.
 */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = {
            "Hand taps and /dev/vhost-net fds to unprivileged VMMs over a Unix socket (SCM_RIGHTS).",
            "A client is admitted by its SO_PEERCRED uid or gid, and gets only taps named with its uid's prefix.",
            "Runs until SIGTERM or Ctrl-C; then deletes the non-persistent taps it made.",
            "Exits 1 when it can no longer accept clients (its socket file removed or replaced)."
        },
        footer = {
            "",
            "Example: vhostnet serve --socket /run/vhostnet/broker.sock --socket-group kvm --allow-uid 1000 --tap-prefix 1000=vm1000-"
        })
public final class ServeCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--socket", required = true, paramLabel = "PATH", description = "The Unix socket to listen on.")
    private Path socket;

    @Option(
            names = "--allow-uid",
            split = ",",
            paramLabel = "UID",
            description = "Uids that may ask for taps (repeatable, or comma-separated).")
    private List<Integer> allowUids = new ArrayList<>();

    @Option(
            names = "--allow-gid",
            split = ",",
            paramLabel = "GID",
            description = "Gids (the peer's primary gid) that may ask for taps.")
    private List<Integer> allowGids = new ArrayList<>();

    @Option(
            names = "--tap-prefix",
            paramLabel = "UID=PREFIX",
            description =
                    "Taps of UID must be named PREFIX...; *=PREFIX for uids without a rule of their own. A uid without a prefix gets no tap.")
    private List<String> tapPrefixes = new ArrayList<>();

    @Option(
            names = "--max-queues",
            paramLabel = "N",
            defaultValue = "" + BrokerPolicy.DEFAULT_MAX_QUEUES,
            description = "Most queues (and so vhost-net fds) one tap may have (default: ${DEFAULT-VALUE}).")
    private int maxQueues;

    @Option(
            names = "--allow-persistent",
            description = "Let clients ask for persistent taps (left in place when the client or broker stops).")
    private boolean allowPersistent;

    @Option(
            names = "--read-timeout-ms",
            paramLabel = "MS",
            defaultValue = "5000",
            description =
                    "How long a client has to send its whole request, however it spaces its bytes (default: ${DEFAULT-VALUE}).")
    private long readTimeoutMillis;

    @Option(
            names = "--max-clients",
            paramLabel = "N",
            defaultValue = "64",
            description = "Clients served at once, leases included (default: ${DEFAULT-VALUE}).")
    private int maxClients;

    @Option(
            names = "--max-clients-per-uid",
            paramLabel = "N",
            defaultValue = "16",
            description = "Clients of one uid served at once, leases included (default: ${DEFAULT-VALUE}).")
    private int maxClientsPerUid;

    @Option(
            names = "--socket-mode",
            paramLabel = "MODE",
            defaultValue = "rw-rw----",
            description =
                    "Permissions of the socket file (default: ${DEFAULT-VALUE}: give the clients' group with --socket-group).")
    private String socketMode;

    @Option(
            names = "--socket-group",
            paramLabel = "GROUP",
            description = "Group of the socket file, a name or a gid (default: the broker's).")
    private String socketGroup;

    @Option(
            names = "--state-dir",
            paramLabel = "DIR",
            defaultValue = "/run/vhostnet",
            description =
                    "Where the broker records the persistent taps it leaves, so that a restarted broker deletes only leftovers (default: ${DEFAULT-VALUE}).")
    private Path stateDir;

    @Option(
            names = "--status-socket",
            paramLabel = "PATH",
            description =
                    "Where vhostnet status asks for the broker's grants, refusals and leases (default: the socket's"
                            + " path + .status; mode rw-------, root or this user only).")
    private Path statusSocket;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Daemon.logToStderr();
        BrokerPolicy policy;
        Broker.Builder builder;
        try {
            BrokerPolicy.Builder p = BrokerPolicy.builder().maxQueues(maxQueues).allowPersistent(allowPersistent);
            allowUids.forEach(p::allowUid);
            allowGids.forEach(p::allowGid);
            tapPrefixes.forEach(p::tapPrefix);
            policy = p.build();
            builder = Broker.builder(socket, policy)
                    .readTimeout(Duration.ofMillis(readTimeoutMillis))
                    .maxClients(maxClients)
                    .maxClientsPerUid(maxClientsPerUid)
                    .socketMode(socketMode)
                    .stateDirectory(stateDir);
            if (socketGroup != null) {
                builder.socketGroup(socketGroup);
            }
        } catch (IllegalArgumentException e) {
            err.println("vhostnet serve: " + e.getMessage());
            err.flush();
            return 2;
        }
        if (policy.allowedUids().isEmpty() && policy.allowedGids().isEmpty()) {
            err.println("vhostnet serve: no client would be admitted: give --allow-uid or --allow-gid");
            err.flush();
            return 2;
        }
        Broker broker;
        try {
            broker = builder.start();
        } catch (IOException e) {
            err.println("vhostnet serve: cannot listen on " + socket + ": " + e.getMessage());
            err.flush();
            return 1;
        }
        StatusSocket status;
        try {
            status = StatusSocket.open(
                    statusSocket != null ? statusSocket : StatusSocket.beside(socket),
                    () -> StatusDocument.broker(broker));
        } catch (IOException e) {
            broker.close();
            err.println("vhostnet serve: cannot listen on the status socket: " + e.getMessage());
            err.flush();
            return 1;
        }
        return Daemon.runUntilSignalledOrFailed(Daemon.closingInOrder(status, broker), broker.failed());
    }
}
