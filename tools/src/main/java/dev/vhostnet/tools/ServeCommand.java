package dev.vhostnet.tools;

import dev.vhostnet.broker.Broker;
import dev.vhostnet.broker.BrokerPolicy;
import dev.vhostnet.sys.SocketActivation;
import dev.vhostnet.sys.UnixListener;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
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
            "Exits 1 when it can no longer accept clients (its socket file removed or replaced).",
            "The options may come from a file (--config FILE: 'name = value' lines, the long options without "
                    + "their dashes); the command line's own win, and repeatable ones add up.",
            "Started by a systemd socket unit (LISTEN_FDS), it accepts on the socket systemd passes: mode and "
                    + "group are the unit's SocketMode= and SocketGroup=, and --socket may be left out."
        },
        footer = {
            "",
            "Example: vhostnet serve --socket /run/vhostnet/broker.sock --socket-group kvm --allow-uid 1000 --tap-prefix 1000=vm1000-"
        })
public final class ServeCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(
            names = "--socket",
            paramLabel = "PATH",
            description = "The Unix socket to listen on (needed unless systemd passes one).")
    private Path socket;

    @Option(names = "--config", paramLabel = "FILE", description = "Read options from FILE ('name = value' lines).")
    private Path config;

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

    @Mixin
    private SocketAccessOptions socketAccess;

    /** The exit status when {@link #start} returns no broker. */
    private int exit;

    @Option(
            names = "--state-dir",
            paramLabel = "DIR",
            defaultValue = "/run/vhostnet",
            description =
                    "Where the broker records the persistent taps it leaves, so that a restarted broker deletes only leftovers (default: ${DEFAULT-VALUE}).")
    private Path stateDir;

    @Mixin
    private StatusSocketOptions statusSocket;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if (config != null) {
            return withConfig(err);
        }
        Daemon.logToStderr();
        Optional<UnixListener> activated = SocketActivation.listener();
        Broker broker = null;
        try {
            broker = start(err, activated);
        } finally {
            if (broker == null && activated.isPresent()) {
                activated.get().close();
            }
        }
        return broker == null ? exit : serve(err, broker);
    }

    /** Serves with {@code broker} and its status socket until a signal or the broker fails. */
    private int serve(PrintWriter err, Broker broker) throws Exception {
        StatusSocket status;
        try {
            status = statusSocket.open(broker.socketPath(), () -> StatusDocument.broker(broker));
        } catch (IOException e) {
            broker.close();
            err.println("vhostnet serve: cannot listen on the status socket " + statusSocket.beside(broker.socketPath())
                    + ": " + e.getMessage());
            err.flush();
            return 1;
        }
        return Daemon.runUntilSignalledOrFailed(Daemon.closingInOrder(status, broker), broker.failed());
    }

    /** The broker on the socket systemd passed or on --socket; null, with {@link #exit} set, after saying why not. */
    private Broker start(PrintWriter err, Optional<UnixListener> activated) {
        Path path = activated.map(l -> l.file().path()).orElse(socket);
        if (path == null) {
            exit = usage(
                    err, "give --socket PATH (or socket = PATH in --config), or start it from a systemd socket unit");
            return null;
        }
        if (activated.isPresent() && socket != null && !socket.toAbsolutePath().equals(path)) {
            exit = usage(err, "systemd passed the socket " + path + ", not --socket " + socket);
            return null;
        }
        Broker.Builder builder;
        try {
            BrokerPolicy.Builder p = BrokerPolicy.builder().maxQueues(maxQueues).allowPersistent(allowPersistent);
            allowUids.forEach(p::allowUid);
            allowGids.forEach(p::allowGid);
            tapPrefixes.forEach(p::tapPrefix);
            BrokerPolicy policy = p.build();
            if (policy.allowedUids().isEmpty() && policy.allowedGids().isEmpty()) {
                exit = usage(err, "no client would be admitted: give --allow-uid or --allow-gid");
                return null;
            }
            builder = Broker.builder(path, policy)
                    .readTimeout(Duration.ofMillis(readTimeoutMillis))
                    .maxClients(maxClients)
                    .maxClientsPerUid(maxClientsPerUid)
                    .socketMode(socketAccess.mode)
                    .stateDirectory(stateDir);
            if (socketAccess.group != null) {
                builder.socketGroup(socketAccess.group);
            }
            activated.ifPresent(builder::inherited);
        } catch (IllegalArgumentException e) {
            exit = usage(err, e.getMessage());
            return null;
        }
        try {
            return builder.start();
        } catch (IOException e) {
            err.println("vhostnet serve: cannot listen on " + path + ": " + e.getMessage());
            err.flush();
            exit = 1;
            return null;
        }
    }

    private static int usage(PrintWriter err, String why) {
        err.println("vhostnet serve: " + why);
        err.flush();
        return 2;
    }

    /**
     * Runs the command the config file and the command line make together: the file's options
     * first, then those given here, so that these win (a repeatable option gets both).
     */
    private int withConfig(PrintWriter err) throws Exception {
        List<String> args;
        try {
            args = ConfigFile.arguments(config, spec);
        } catch (IOException e) {
            return usage(err, "cannot read --config " + config + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            return usage(err, e.getMessage());
        }
        for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
            if (o.longestName().equals("--config")) {
                continue;
            }
            if (o.arity().max() == 0) {
                args.add(o.longestName());
            } else {
                for (String value : o.originalStringValues()) {
                    args.add(o.longestName());
                    args.add(value);
                }
            }
        }
        ServeCommand merged = new ServeCommand();
        CommandLine command = new CommandLine(merged).setOverwrittenOptionsAllowed(true);
        command.setErr(err).setOut(spec.commandLine().getOut());
        try {
            command.parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            return usage(err, config + ": " + e.getMessage());
        }
        return merged.call();
    }
}
