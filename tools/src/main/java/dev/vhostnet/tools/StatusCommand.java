package dev.vhostnet.tools;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vhostnet.bench.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vhostnet status}: asks a running {@code serve} or {@code vhost-user} daemon for its counters
 * over its status socket ({@link StatusSocket}) and prints them, as a table or as the JSON document.
 * What comes back is read with a bound and a deadline and parsed before anything is printed.
 */
@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        description = {
            "Show the counters of a running vhostnet serve or vhost-user daemon: its device's packets, bytes,"
                    + " drops, guest violations and the tap's statistics (vhost-user), or its grants, refusals"
                    + " and leases (serve).",
            "The daemon answers on its status socket: SOCKET.status beside the socket it listens on unless"
                    + " started with --status-socket (which vhost-user --client needs). Root or the daemon's own"
                    + " user may ask."
        },
        footer = {"", "Example: vhostnet status --socket /run/vhostnet/vm1.sock.status --json"})
public final class StatusCommand implements Callable<Integer> {
    /** The largest document read: far more than a daemon sends. */
    static final int MAX_DOCUMENT = 1 << 20;

    @Spec
    private CommandSpec spec;

    @Option(
            names = "--socket",
            required = true,
            paramLabel = "PATH",
            description =
                    "The daemon's status socket (SOCKET.status beside the socket it listens on, or its --status-socket).")
    private Path socket;

    @Option(names = "--json", description = "Print the daemon's JSON document instead of a table.")
    private boolean json;

    @Option(
            names = "--timeout-ms",
            paramLabel = "MS",
            defaultValue = "5000",
            description = "How long the daemon has to send its whole answer (default: ${DEFAULT-VALUE}).")
    private long timeoutMillis;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        JsonNode doc = Json.parse(ask(socket, timeoutMillis));
        if (json) {
            out.println(Json.write(doc));
        } else {
            StatusTable.print(doc, out);
        }
        out.flush();
        return 0;
    }

    /** The daemon's answer: at most {@link #MAX_DOCUMENT} bytes, all of it within {@code timeoutMillis}. */
    static String ask(Path socket, long timeoutMillis) throws IOException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        try (AFUNIXSocket s = connect(socket)) {
            InputStream in = s.getInputStream();
            ByteArrayOutputStream doc = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    throw late(socket, timeoutMillis);
                }
                s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
                int n;
                try {
                    n = in.read(buffer);
                } catch (SocketTimeoutException e) {
                    throw late(socket, timeoutMillis);
                }
                if (n < 0) {
                    break;
                }
                if (doc.size() + n > MAX_DOCUMENT) {
                    throw new IOException(
                            socket + " sent more than " + MAX_DOCUMENT + " bytes: not a vhostnet status socket");
                }
                doc.write(buffer, 0, n);
            }
            if (doc.size() == 0) {
                throw new IOException(socket + " closed without an answer: only root or the daemon's user may ask");
            }
            return doc.toString(StandardCharsets.UTF_8);
        }
    }

    private static SocketTimeoutException late(Path socket, long timeoutMillis) {
        return new SocketTimeoutException("no complete answer from " + socket + " within " + timeoutMillis
                + " ms: is it a vhostnet status socket?");
    }

    private static AFUNIXSocket connect(Path socket) throws IOException {
        try {
            return AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket));
        } catch (IOException e) {
            throw new IOException(
                    "cannot connect to " + socket + ": " + e.getMessage()
                            + ": is the daemon running? Its status socket is SOCKET.status beside its socket,"
                            + " or what --status-socket gave",
                    e);
        }
    }
}
