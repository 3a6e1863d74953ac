package dev.vhostnet.testkit;

import dev.vhostnet.sys.Fcntl;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Hint;
import dev.vhostnet.sys.SocketUapi;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.Names;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace this process makes ({@code ip netns add <prefix><random>}) and deletes on
 * close, with IPv6 off so no router solicitations or DAD frames mix with the traffic sent through it.
 */
public final class NetNamespace implements AutoCloseable {
    private final String name;

    private NetNamespace(String name) {
        this.name = name;
    }

    /** A namespace named {@code vt-<random>}. */
    public static NetNamespace create() throws IOException {
        return create("vt-");
    }

    /** A namespace named {@code prefix} and 8 random hex digits. */
    public static NetNamespace create(String prefix) throws IOException {
        NetNamespace ns = new NetNamespace(Names.random(prefix));
        Command.run("ip", "netns", "add", ns.name);
        try {
            Command.run(
                    "ip",
                    "netns",
                    "exec",
                    ns.name,
                    "sysctl",
                    "-q",
                    "-w",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1");
            ns.ip("link", "set", "lo", "up");
        } catch (IOException | RuntimeException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    public String name() {
        return name;
    }

    /** {@code ip -n <ns> args...}; returns its output. */
    public String ip(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("ip", "-n", name));
        command.addAll(List.of(args));
        return Command.run(command.toArray(String[]::new));
    }

    /** Moves a host interface into this namespace ({@code ip link set <dev> netns <ns>}). */
    public void moveIn(String device) throws IOException {
        Command.run("ip", "link", "set", "dev", device, "netns", name);
    }

    /**
     * Runs {@code task} on a fresh thread that has joined this namespace ({@code setns(CLONE_NEWNET)}),
     * so sockets it opens live here; waits at most 10 s.
     */
    public <T> T call(Callable<T> task) throws Exception {
        FutureTask<T> future = new FutureTask<>(() -> {
            try (Fd ns = Fd.open("/var/run/netns/" + name, Fcntl.O_RDONLY, Hint.NONE)) {
                Syscalls.setns(ns, SocketUapi.CLONE_NEWNET);
            }
            return task.call();
        });
        Thread thread = new Thread(future, "netns-" + name);
        thread.setDaemon(true);
        thread.start();
        try {
            return future.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        Command.run("ip", "netns", "del", name);
    }
}
