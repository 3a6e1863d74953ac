package dev.vhostnet.it.vm;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Runs in a guest: sends {@link EchoTraffic} datagrams FIRST..FIRST+N-1 to a host peer that echoes each, one
 * at a time, and checks every echo byte for byte; a datagram whose echo does not come in time is
 * sent again (UDP may drop). Writes {@code datagrams N bytes B resent R sha256 H millis T} to the
 * results file and exits 0, or exits 1 with the reason.
 *
 * <p>Arguments: host address, port, first datagram number, datagram count, results file.
 */
public final class GuestEchoClient {
    private static final int TIMEOUT_MILLIS = 500;
    private static final int TRIES = 20;

    private GuestEchoClient() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: GuestEchoClient HOST PORT FIRST COUNT RESULTS_FILE");
            System.exit(2);
        }
        InetSocketAddress peer = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
        int first = Integer.parseInt(args[2]);
        int count = Integer.parseInt(args[3]);
        Path results = Path.of(args[4]);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        long started = System.nanoTime();
        int resent = 0;
        try (DatagramSocket socket = new DatagramSocket()) {
            resent = exchangeAll(socket, peer, first, count, sha);
        } catch (IOException e) {
            fail(results, e.getMessage());
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        String line = String.format(
                "datagrams %d bytes %d resent %d sha256 %s millis %d",
                count, (long) count * EchoTraffic.SIZE, resent, HexFormat.of().formatHex(sha.digest()), millis);
        Files.writeString(results, line + "\n");
        System.out.println("GuestEchoClient: " + line);
    }

    /** Sends datagrams first..first+count-1, each until its echo is back; returns how many were sent again. */
    private static int exchangeAll(
            DatagramSocket socket, InetSocketAddress peer, int first, int count, MessageDigest sha) throws IOException {
        int resent = 0;
        socket.setSoTimeout(TIMEOUT_MILLIS);
        byte[] in = new byte[EchoTraffic.SIZE + 1];
        for (int seq = first; seq < first + count; seq++) {
            byte[] out = EchoTraffic.datagram(seq);
            int tries = 0;
            while (!exchange(socket, peer, out, in, seq)) {
                if (++tries == TRIES) {
                    throw new IOException("no echo of datagram " + seq + " after " + TRIES + " tries");
                }
                resent++;
            }
            sha.update(out);
        }
        return resent;
    }

    /** Sends {@code out} and waits for its echo; echoes of earlier datagrams (late duplicates) are skipped. */
    private static boolean exchange(DatagramSocket socket, InetSocketAddress peer, byte[] out, byte[] in, int seq)
            throws IOException {
        socket.send(new DatagramPacket(out, out.length, peer));
        long deadline = System.nanoTime() + TIMEOUT_MILLIS * 1_000_000L;
        while (System.nanoTime() < deadline) {
            DatagramPacket p = new DatagramPacket(in, in.length);
            try {
                socket.receive(p);
            } catch (SocketTimeoutException e) {
                return false;
            }
            int got = EchoTraffic.check(p.getData(), p.getLength());
            if (got == seq) {
                return true;
            }
            if (got < 0 || got > seq) {
                throw new IOException(
                        "echo of datagram " + seq + " is not a datagram sent: " + p.getLength() + " bytes");
            }
        }
        return false;
    }

    private static void fail(Path results, String why) throws IOException {
        Files.writeString(results, "failed: " + why + "\n");
        System.err.println("GuestEchoClient: " + why);
        System.exit(1);
    }
}
